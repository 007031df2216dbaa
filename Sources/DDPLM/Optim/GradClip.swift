import CKernels

/// `torch.nn.utils.clip_grad_norm_(params, maxNorm)`: total = ‖g‖₂ over all parameters; if
/// total > maxNorm, every gradient is scaled by maxNorm / (total + 1e-6). The training step computes the
/// norm from (shards') sums of squares and folds `coefficient` into Adam's gradient scale.
enum GradClip {
    static func sumOfSquares(_ g: UnsafePointer<Float>, count n: Int) -> Double { ddplm_sumsq(g, n) }

    /// The factor clip_grad_norm_ multiplies the gradients by (1 when under the threshold).
    static func coefficient(norm total: Double, maxNorm: Double) -> Float {
        let coef = maxNorm / (total + 1e-6)
        return coef < 1 ? Float(coef) : 1
    }
}
