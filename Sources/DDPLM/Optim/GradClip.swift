import CKernels

/// `torch.nn.utils.clip_grad_norm_(params, maxNorm)`: total = ‖g‖₂ over all parameters; if
/// total > maxNorm, every gradient is scaled by maxNorm / (total + 1e-6).
public enum GradClip {
    public static func sumOfSquares(_ g: UnsafePointer<Float>, count n: Int) -> Double { ddplm_sumsq(g, n) }

    public static func norm(_ g: UnsafePointer<Float>, count n: Int) -> Double { sumOfSquares(g, count: n).squareRoot() }

    /// The factor clip_grad_norm_ multiplies the gradients by (1 when under the threshold).
    public static func coefficient(norm total: Double, maxNorm: Double) -> Float {
        let coef = maxNorm / (total + 1e-6)
        return coef < 1 ? Float(coef) : 1
    }

    /// Clips in place; returns the norm before clipping.
    @discardableResult
    public static func clip(_ g: UnsafeMutablePointer<Float>, count n: Int, maxNorm: Double) -> Double {
        let total = norm(g, count: n)
        let c = coefficient(norm: total, maxNorm: maxNorm)
        if c < 1 { for i in 0..<n { g[i] *= c } }
        return total
    }
}
