import CKernels

/// A GEMM right-hand side packed once and multiplied many times: the recurrent weight of a layer, used by
/// every time step of a window (`h W_hhᵀ` forward, `dG W_hh` backward). A BLAS call packs its B again on
/// every call, reading and writing the whole weight (6.8 MB at H = 650) for a product with a few rows;
/// `multiply` streams the packed panels once (`ddplm_gemm_packed`: AVX-512 or AVX2 register tiles).
/// It runs on the thread count of the model that owns it (`threads`, the model's `ComputeThreads`): each
/// thread takes whole panels, so every column is computed the same way whatever the count. Its twin in the tests is `naiveGemm`.
/// With `MatmulPrecision.medium` (when the matrix is built) it packs bf16 tiles instead and multiplies
/// with the bf16 kernel (`ddplm_gemm_bf16_packed_parts`), the same arithmetic as `gemm` in that mode.
final class PackedMatrix {
    /// B is K×N.
    let k: Int
    let n: Int
    private let panels: FloatBuffer
    /// The bf16 tiles (nil in float32 mode).
    private let tiles: UnsafeMutablePointer<UInt16>?

    /// Threads of the packing and the products (ddplm's pool).
    let threads: Int

    init(k: Int, n: Int, threads: ComputeThreads) {
        self.k = k
        self.n = n
        self.threads = threads.count
        let bf16 = MatmulPrecision.current == .medium
        panels = FloatBuffer(count: bf16 ? 0 : ddplm_packed_size(k, n))
        if bf16 {
            let count = ddplm_bf16_packed_size(k, n)
            // on a cache line, so that no 64-byte load of a tile row straddles two
            tiles = UnsafeMutableRawPointer.allocate(byteCount: count * 2, alignment: 64).bindMemory(to: UInt16.self, capacity: count)
            tiles!.initialize(repeating: 0, count: count)
        } else {
            tiles = nil
        }
    }

    deinit { tiles?.deallocate() }

    /// Whether the per-step products use packed panels instead of `gemm` (`RecurrentGEMM.current`).
    static var enabled: Bool { RecurrentGEMM.current == .packed }

    /// Packs B: element (p, j) is b[p·ldb + j], or b[j·ldb + p] when `transposed`.
    func pack(_ b: UnsafePointer<Float>, ldb: Int, transposed: Bool) {
        if let tiles {
            ddplm_bf16_pack_b_parts(threads, transposed ? 1 : 0, k, n, b, ldb, tiles)
            return
        }
        ddplm_pack_b_parts(threads, transposed ? 1 : 0, k, n, b, ldb, panels.ptr)
    }

    /// C[m×N] = A[m×K]·B + beta·C, on `threads` parts, each part whole panels (a column range
    /// starting on a panel boundary is itself a packed matrix at panels + start·K).
    func multiply(m: Int, a: UnsafePointer<Float>, lda: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if let tiles {
            ddplm_gemm_bf16_packed_parts(threads, m, n, k, a, lda, tiles, beta, c, ldc)
            return
        }
        ddplm_gemm_packed_parts(threads, m, n, k, a, lda, panels.ptr, beta, c, ldc)
    }

    /// `multiply` with a given kernel (0 plain C, 1 AVX2, 2 AVX-512); false when this CPU lacks it. The
    /// run-time dispatch picks one kernel per CPU, so this is how PackedMatrixTests checks every kernel
    /// the CPU can run against the naive twin, not only the one it picks.
    func multiply(kernel: Int32, m: Int, a: UnsafePointer<Float>, lda: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) -> Bool {
        precondition(tiles == nil, "the float kernels need float panels")
        return ddplm_gemm_packed_isa(kernel, m, n, k, a, lda, panels.ptr, beta, c, ldc) != 0
    }
}

/// How the recurrent layers multiply by W_hh at each time step: packed panels (the default on a CPU
/// with AVX2+FMA or AVX-512) or a `gemm` call per step. Process-wide, set before models are built;
/// `ddplm bench --recurrent-gemm` compares the two.
public enum RecurrentGEMM: String, CaseIterable, Sendable {
    case packed, blas

    nonisolated(unsafe) public static var current: RecurrentGEMM = ddplm_gemm_packed_kernel() > 0 ? .packed : .blas

    /// The packed kernel the products run: "avx512", "avx2" or "plain" for float32, or the bf16 one
    /// (`MatmulPrecision.kernelName`) with `MatmulPrecision.medium`.
    public static var kernelName: String {
        MatmulPrecision.current == .medium ? MatmulPrecision.current.kernelName : ["plain", "avx2", "avx512"][Int(ddplm_gemm_packed_kernel())]
    }
}
