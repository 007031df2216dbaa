import CKernels

/// The one owner of the per-rank thread count. `configure` sets OpenBLAS's threads (what `gemm` runs on)
/// and returns the value the model and the optimiser are built with: it splits the work outside BLAS
/// (the decoder's softmax rows, Adam, the packed per-step products of every recurrent layer),
/// which runs as C loops on ddplm's fork-join pool (`ddplm_parallel`, Sources/CKernels/parallel_loops.c:
/// a Swift closure sent to another thread would cost a heap allocation per call). Every result is
/// independent of it except where a reduction order is documented (the decoder's bias gradient).
public struct ComputeThreads: Sendable, Equatable {
    public let count: Int

    /// A value for code that does not touch OpenBLAS's setting (tests, one-off tools).
    init(_ count: Int) { self.count = max(1, count) }

    /// Sets OpenBLAS to `n` threads and returns the matching value for the elementwise work. Also flushes
    /// denormal floats to zero (a BiLSTM's gradients vanishing over hundreds of steps become denormal and
    /// slow every GEMM that touches them several times over; see `ddplm_flush_denormals`).
    public static func configure(_ n: Int) -> ComputeThreads {
        ddplm_flush_denormals()
        BLASInfo.setThreads(n)
        return ComputeThreads(n)
    }

    public static let one = ComputeThreads(1)
}
