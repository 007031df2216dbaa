/// The whole-window products every recurrent layer shares (the language model's `RecurrentLayer` and the
/// classifier's `LSTMDirection`): the input projection before the time loop, and after the backward
/// time loop the weight and bias gradients and the input gradient, each one GEMM over all the window's
/// rows at once. The time loops themselves differ (cells, carried state, packed sequences) and stay
/// with their layers.
enum RecurrentWindow {
    /// xw[rows, G] = x[rows, input] · W_ihᵀ + b_ih. `biasReady` runs between the product and the bias:
    /// b_ih lies after W_hh in the layout, so an all-gather still bringing the layer's other weights can
    /// go on during the product, which reads W_ih alone. `packs`: W_ih's tiles, packed already (`WeightPacks`).
    static func projectInputs(rows: Int, input: Int, gates g: Int, x: UnsafePointer<Float>, wih: UnsafePointer<Float>,
                              bih: UnsafePointer<Float>, into xw: UnsafeMutablePointer<Float>, packs: WeightPacks.Entry? = nil,
                              threads: Int = 1, biasReady: () -> Void = {}) {
        if let packs {
            packs.transposed.multiply(threads: threads, m: rows, a: x, lda: input, beta: 0, c: xw, ldc: g)
        } else {
            gemm(transA: false, transB: true, m: rows, n: g, k: input, a: x, lda: input, b: wih, ldb: input, beta: 0, c: xw, ldc: g)
        }
        biasReady()
        for r in 0..<rows {
            let row = xw + r * g
            for k in 0..<g { row[k] += bih[k] }
        }
    }

    /// Accumulates dW_hh += dGhhᵀ · hPrev, dW_ih += dGihᵀ · x, db_ih += Σ dGih rows, db_hh += Σ dGhh rows
    /// (dGhh is dGih itself for cells whose two gate gradients are the same), then writes (beta 0) or adds
    /// (beta 1) dX = dGih · W_ih when asked for (with `packs`, W_ih's tiles packed already, on `threads`). `final(gradient, count)` is told as each weight or bias
    /// gradient is complete, so that its exchange can start during the rest (the dX product, and the
    /// layers below): the last layer's weight gradients would otherwise wait for the end of the backward.
    /// With `inputGradientFirst`, dX comes first and `inputGradientReady` is called on it before the weight
    /// gradients: the first layer's caller finishes the embedding's gradient there, so that the embedding
    /// exchange runs during this layer's weight gradients (the same products, so the same bits).
    static func gradients(rows: Int, input: Int, hidden h: Int, gates g: Int,
                          dGih: UnsafePointer<Float>, dGhh: UnsafePointer<Float>, hPrev: UnsafePointer<Float>, x: UnsafePointer<Float>,
                          wih: UnsafePointer<Float>, dwih: UnsafeMutablePointer<Float>, dwhh: UnsafeMutablePointer<Float>,
                          dbih: UnsafeMutablePointer<Float>, dbhh: UnsafeMutablePointer<Float>,
                          dX: UnsafeMutablePointer<Float>?, dXBeta: Float = 0, packs: WeightPacks.Entry? = nil, threads: Int = 1,
                          final: (UnsafeMutablePointer<Float>, Int) -> Void = { _, _ in },
                          inputGradientFirst: Bool = false, inputGradientReady: () -> Void = {}) {
        func inputGradient() {
            if let dX, let packs {
                packs.straight.multiply(threads: threads, m: rows, a: dGih, lda: g, beta: dXBeta, c: dX, ldc: input)
            } else if let dX {
                gemm(transA: false, transB: false, m: rows, n: input, k: g, a: dGih, lda: g, b: wih, ldb: input, beta: dXBeta, c: dX, ldc: input)
            }
        }
        if inputGradientFirst { inputGradient(); inputGradientReady() }
        gemm(transA: true, transB: false, m: g, n: h, k: rows, a: dGhh, lda: g, b: hPrev, ldb: h, beta: 1, c: dwhh, ldc: h)
        final(dwhh, g * h)
        gemm(transA: true, transB: false, m: g, n: input, k: rows, a: dGih, lda: g, b: x, ldb: input, beta: 1, c: dwih, ldc: input)
        final(dwih, g * input)
        for r in 0..<rows {
            let di = dGih + r * g, dhh = dGhh + r * g
            for k in 0..<g { dbih[k] += di[k]; dbhh[k] += dhh[k] }
        }
        final(dbih, g)
        final(dbhh, g)
        if !inputGradientFirst { inputGradient() }
    }
}
