/// PyTorch GRU, one time step over a block of `b` rows, gate order (r, z, n):
///   r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr),  z = σ(x W_izᵀ + b_iz + h W_hzᵀ + b_hz)
///   n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn)),  h' = (1 − z) ⊙ n + z ⊙ h
/// The reset gate multiplies `W_hn h + b_hn`, bias included, exactly as PyTorch does.
enum GRUCell {
    static func forward(
        b: Int, h: Int, xw: UnsafePointer<Float>, hh: UnsafePointer<Float>, bhh: UnsafePointer<Float>,
        hPrev: UnsafePointer<Float>, act: UnsafeMutablePointer<Float>, hn: UnsafeMutablePointer<Float>,
        hOut: UnsafeMutablePointer<Float>
    ) {
        let g3 = 3 * h
        for j in 0..<b {
            let a = act + j * g3, x = xw + j * g3, r = hh + j * g3, n = hn + j * h
            for k in 0..<(2 * h) { a[k] = x[k] + r[k] + bhh[k] }
            vsigmoid(a, a, 2 * h)
            for k in 0..<h {
                n[k] = r[2 * h + k] + bhh[2 * h + k]
                a[2 * h + k] = x[2 * h + k] + a[k] * n[k]
            }
            vtanh(a + 2 * h, a + 2 * h, h)
            let hp = hPrev + j * h, ho = hOut + j * h
            for k in 0..<h {
                let z = a[h + k]
                ho[k] = (1 - z) * a[2 * h + k] + z * hp[k]
            }
        }
    }

    /// dh (b × H) is the total gradient w.r.t. h_t; on return it holds the direct part of the gradient
    /// w.r.t. h_{t−1} (z ⊙ dh), to which the layer adds dGhh · W_hh. Writes the input-side (dGih) and
    /// hidden-side (dGhh) pre-activation gradients, which differ in the n block by the factor r.
    static func backward(
        b: Int, h: Int, dh: UnsafeMutablePointer<Float>, act: UnsafePointer<Float>, hn: UnsafePointer<Float>,
        hPrev: UnsafePointer<Float>, dGih: UnsafeMutablePointer<Float>, dGhh: UnsafeMutablePointer<Float>
    ) {
        let g3 = 3 * h
        for j in 0..<b {
            let a = act + j * g3, di = dGih + j * g3, dhh = dGhh + j * g3
            let dhj = dh + j * h, n = hn + j * h, hp = hPrev + j * h
            for k in 0..<h {
                let r = a[k], z = a[h + k], nn = a[2 * h + k]
                let d = dhj[k]
                let dnPre = d * (1 - z) * (1 - nn * nn)
                let drPre = dnPre * n[k] * r * (1 - r)
                let dzPre = d * (hp[k] - nn) * z * (1 - z)
                di[k] = drPre; di[h + k] = dzPre; di[2 * h + k] = dnPre
                dhh[k] = drPre; dhh[h + k] = dzPre; dhh[2 * h + k] = dnPre * r
                dhj[k] = d * z
            }
        }
    }
}
