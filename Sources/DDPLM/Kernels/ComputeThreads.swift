import CKernels
import Dispatch

/// The one owner of the per-rank thread count. `configure` sets OpenBLAS's threads; the same value splits
/// the elementwise work outside BLAS (the decoder's softmax rows, Adam). Every result is independent of
/// it except where a reduction order is documented (the decoder's bias gradient).
public struct ComputeThreads: Sendable, Equatable {
    public let count: Int

    /// A value for code that does not touch OpenBLAS's setting (tests, one-off tools).
    init(_ count: Int) { self.count = max(1, count) }

    /// Sets OpenBLAS to `n` threads and returns the matching value for the elementwise work. Also flushes
    /// denormal floats to zero (a BiLSTM's gradients vanishing over hundreds of steps become denormal and
    /// slow every GEMM that touches them ~6×; see `ddplm_flush_denormals`).
    public static func configure(_ n: Int) -> ComputeThreads {
        ddplm_flush_denormals()
        BLASInfo.setThreads(n)
        return ComputeThreads(n)
    }

    public static let one = ComputeThreads(1)

    /// Runs body(0..<parts) on the worker threads (inline when parts ≤ 1).
    @inline(__always)
    func parallel(_ parts: Int, _ body: (Int) -> Void) {
        if parts <= 1 { body(0); return }
        DispatchQueue.concurrentPerform(iterations: parts, execute: body)
    }
}
