/// nn.Linear on row blocks: out = x Wᵀ + b, with W [output, input].
enum Linear {
    static func forward(x: UnsafePointer<Float>, rows: Int, input: Int, output: Int, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows { (out + r * output).update(from: bias, count: output) }
        gemm(transA: false, transB: true, m: rows, n: output, k: input, a: x, lda: input, b: weight, ldb: input, beta: 1, c: out, ldc: output)
    }

    /// dW += dOutᵀ x, db += Σ dOut, dX = dOut W (when given).
    static func backward(dOut: UnsafePointer<Float>, x: UnsafePointer<Float>, rows: Int, input: Int, output: Int,
                         weight: UnsafePointer<Float>, dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>,
                         dX: UnsafeMutablePointer<Float>?) {
        gemm(transA: true, transB: false, m: output, n: input, k: rows, a: dOut, lda: output, b: x, ldb: input, beta: 1, c: dWeight, ldc: input)
        for r in 0..<rows {
            let d = dOut + r * output
            for k in 0..<output { dBias[k] += d[k] }
        }
        if let dX {
            gemm(transA: false, transB: false, m: rows, n: input, k: output, a: dOut, lda: output, b: weight, ldb: input, beta: 0, c: dX, ldc: input)
        }
    }
}
