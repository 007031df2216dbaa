/// PyTorch RNN with tanh: h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh).
enum RNNTanhCell {
    static func forward(
        b: Int, h: Int, xw: UnsafePointer<Float>, hh: UnsafePointer<Float>, bhh: UnsafePointer<Float>,
        act: UnsafeMutablePointer<Float>, hOut: UnsafeMutablePointer<Float>
    ) {
        for j in 0..<b {
            let a = act + j * h, x = xw + j * h, r = hh + j * h
            for k in 0..<h { a[k] = x[k] + r[k] + bhh[k] }
            vtanh(a, a, h)
            (hOut + j * h).update(from: a, count: h)
        }
    }

    static func backward(b: Int, h: Int, dh: UnsafePointer<Float>, act: UnsafePointer<Float>, dG: UnsafeMutablePointer<Float>) {
        for i in 0..<(b * h) { dG[i] = dh[i] * (1 - act[i] * act[i]) }
    }
}
