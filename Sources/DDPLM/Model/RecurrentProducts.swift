/// A recurrent layer's per-time-step products with its hidden-to-hidden weight W_hh [G, H] (G = gates·H):
/// forward h·W_hhᵀ, backward dG·W_hh. With `RecurrentGEMM.packed` the weight is packed once per window
/// (`begin…`) and each step streams the panels (`PackedMatrix`); otherwise each step calls `gemm`, which
/// packs W_hh again. A window of one step (generation) always calls `gemm`. A window given the weight's
/// packs already made (`WeightPacks`, node-shared: bf16 tiles or float32 panels) multiplies by those
/// instead of packing its own.
final class RecurrentProducts {
    let hidden: Int
    let gates: Int
    private let transposed: PackedMatrix   // W_hhᵀ [H, G], for the forward
    private let straight: PackedMatrix     // W_hh [G, H], for the backward
    /// The panels were sized (packed products enabled when the layer was built, windows longer than 1).
    private let packable: Bool
    /// The owner's thread count, which the packed products split over.
    var threads: Int { transposed.threads }
    private var whh: UnsafePointer<Float>?
    private var packed = false
    /// This window's packed weight from `WeightPacks`, when given.
    private var shared: PackedWeight?

    init(hidden: Int, gates: Int, maxT: Int, threads: ComputeThreads) {
        self.hidden = hidden
        self.gates = gates
        packable = PackedMatrix.enabled && maxT > 1
        transposed = PackedMatrix(k: packable ? hidden : 0, n: gates, threads: threads)
        straight = PackedMatrix(k: packable ? gates : 0, n: hidden, threads: threads)
    }

    private func begin(_ whh: UnsafePointer<Float>, steps: Int, shared: PackedWeight?) -> Bool {
        self.whh = whh
        packed = packable && PackedMatrix.enabled && steps > 1
        self.shared = packed ? shared : nil
        return packed && shared == nil
    }

    /// Before a forward window of `steps` steps with weight `whh` (`packs`: the weight packed already).
    func beginForward(whh: UnsafePointer<Float>, steps: Int, packs: WeightPacks.Entry? = nil) {
        if begin(whh, steps: steps, shared: packs?.transposed) { transposed.pack(whh, ldb: hidden, transposed: true) }
    }

    /// c[m, G] = h[m, H]·W_hhᵀ (row strides H and G).
    func forward(m: Int, h: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>) {
        if let shared {
            shared.multiply(threads: threads, m: m, a: h, lda: hidden, beta: 0, c: c, ldc: gates)
        } else if packed {
            transposed.multiply(m: m, a: h, lda: hidden, beta: 0, c: c, ldc: gates)
        } else {
            gemm(transA: false, transB: true, m: m, n: gates, k: hidden, a: h, lda: hidden, b: whh!, ldb: hidden,
                 beta: 0, c: c, ldc: gates)
        }
    }

    /// Before a backward window of `steps` steps with weight `whh` (`packs`: the weight packed already).
    func beginBackward(whh: UnsafePointer<Float>, steps: Int, packs: WeightPacks.Entry? = nil) {
        if begin(whh, steps: steps, shared: packs?.straight) { straight.pack(whh, ldb: hidden, transposed: false) }
    }

    /// c[m, H] = dG[m, G]·W_hh + beta·c (row strides G and H).
    func backward(m: Int, dG: UnsafePointer<Float>, beta: Float, into c: UnsafeMutablePointer<Float>) {
        if let shared {
            shared.multiply(threads: threads, m: m, a: dG, lda: gates, beta: beta, c: c, ldc: hidden)
        } else if packed {
            straight.multiply(m: m, a: dG, lda: gates, beta: beta, c: c, ldc: hidden)
        } else {
            gemm(transA: false, transB: false, m: m, n: hidden, k: gates, a: dG, lda: gates, b: whh!, ldb: hidden,
                 beta: beta, c: c, ldc: hidden)
        }
    }
}
