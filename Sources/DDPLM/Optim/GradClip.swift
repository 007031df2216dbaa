/// `torch.nn.utils.clip_grad_norm_(params, maxNorm)`: total = ‖g‖₂ over all parameters; if
/// total > maxNorm, every gradient is scaled by maxNorm / (total + 1e-6). Returns the norm before clipping.
public enum GradClip {
    public static func norm(_ g: UnsafePointer<Float>, count n: Int) -> Double {
        // Four Double accumulators over Float SIMD partial sums: fast and order-stable.
        var acc = SIMD8<Double>()
        var i = 0
        let r = UnsafeRawPointer(g)
        while i + 64 <= n {
            var f = SIMD16<Float>()
            for q in 0..<4 {
                let v = r.loadUnaligned(fromByteOffset: (i + q * 16) * 4, as: SIMD16<Float>.self)
                f += v * v
            }
            acc += SIMD8<Double>(f.lowHalf) + SIMD8<Double>(f.highHalf)
            i += 64
        }
        var s = acc.sum()
        while i < n { s += Double(g[i]) * Double(g[i]); i += 1 }
        return s.squareRoot()
    }

    @discardableResult
    public static func clip(_ g: UnsafeMutablePointer<Float>, count n: Int, maxNorm: Double) -> Double {
        let total = norm(g, count: n)
        let coef = maxNorm / (total + 1e-6)
        if coef < 1 {
            let c = Float(coef)
            for i in 0..<n { g[i] *= c }
        }
        return total
    }
}
