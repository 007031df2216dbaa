/// PyTorch LSTM, one time step over a block of `b` rows, gate order (i, f, g, o):
///   i = σ(·), f = σ(·), g = tanh(·), o = σ(·) of  x W_ihᵀ + b_ih + h W_hhᵀ + b_hh
///   c' = f ⊙ c + i ⊙ g,   h' = o ⊙ tanh(c')
/// `xw` already holds x W_ihᵀ + b_ih and `hh` holds h W_hhᵀ (both GEMMs live in RecurrentLayer).
enum LSTMCell {
    static func forward(
        b: Int, h: Int, xw: UnsafePointer<Float>, hh: UnsafePointer<Float>, bhh: UnsafePointer<Float>,
        cPrev: UnsafePointer<Float>, act: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>,
        tc: UnsafeMutablePointer<Float>, hOut: UnsafeMutablePointer<Float>
    ) {
        let g4 = 4 * h
        for j in 0..<b {
            let a = act + j * g4, x = xw + j * g4, r = hh + j * g4
            for k in 0..<g4 { a[k] = x[k] + r[k] + bhh[k] }
            vsigmoid(a, a, 2 * h)              // i, f
            vtanh(a + 2 * h, a + 2 * h, h)     // g
            vsigmoid(a + 3 * h, a + 3 * h, h)  // o
            let cp = cPrev + j * h, cj = c + j * h, tj = tc + j * h
            for k in 0..<h { cj[k] = a[h + k] * cp[k] + a[k] * a[2 * h + k] }
            vtanh(cj, tj, h)
            let hj = hOut + j * h
            for k in 0..<h { hj[k] = a[3 * h + k] * tj[k] }
        }
    }

    /// Given dh (total gradient w.r.t. h_t) and dc (gradient w.r.t. c_t from step t+1, updated in place to
    /// the gradient w.r.t. c_{t-1}), writes the pre-activation gate gradients dG (b × 4H).
    static func backward(
        b: Int, h: Int, dh: UnsafePointer<Float>, dc: UnsafeMutablePointer<Float>,
        act: UnsafePointer<Float>, cPrev: UnsafePointer<Float>, tc: UnsafePointer<Float>,
        dG: UnsafeMutablePointer<Float>
    ) {
        let g4 = 4 * h
        for j in 0..<b {
            let a = act + j * g4, d = dG + j * g4
            let dhj = dh + j * h, dcj = dc + j * h, cp = cPrev + j * h, tj = tc + j * h
            for k in 0..<h {
                let i = a[k], f = a[h + k], g = a[2 * h + k], o = a[3 * h + k]
                let t = tj[k]
                let dct = dcj[k] + dhj[k] * o * (1 - t * t)
                d[k] = dct * g * i * (1 - i)
                d[h + k] = dct * cp[k] * f * (1 - f)
                d[2 * h + k] = dct * i * (1 - g * g)
                d[3 * h + k] = dhj[k] * t * o * (1 - o)
                dcj[k] = dct * f
            }
        }
    }
}
