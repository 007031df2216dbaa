import CKernels
import Glibc

/// `torch.optim.Adam` (no weight decay, no amsgrad), one vectorised loop over a range of the store's
/// flat buffers:
///   m = m + (1−β1)(g − m)  (lerp, as torch);  v = β2 v + (1−β2) g²
///   p −= (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε)
/// `gradScale` multiplies the gradient first: the clip coefficient, applied here instead of in a
/// separate pass over the gradients. The moments live in the `ParameterStore`, the step
/// count t in the trainer's state: Adam itself holds only its hyper-parameters.
struct Adam: Sendable {
    var beta1 = 0.9
    var beta2 = 0.999
    var eps = 1e-8
    let threads: ComputeThreads

    init(threads: ComputeThreads = .one) { self.threads = threads }

    /// Update number `step` (t = 1, 2, …) over parameters `range` (one rank's shard, or everything).
    /// `store.grads` must hold the gradients for that range at the same offsets. `zeroingGradients`:
    /// leave the range's gradients zero, in the same pass (`ParameterStore.zeroGradients` then skips it).
    func update(_ store: ParameterStore, range: Range<Int>, step: Int, lr: Double, gradScale: Float = 1,
                zeroingGradients: Bool = false) {
        let bc1 = 1 - pow(beta1, Double(step))
        let bc2 = 1 - pow(beta2, Double(step))
        let b1 = Float(1 - beta1), b2 = Float(beta2), omb2 = Float(1 - beta2)
        let stepSize = Float(lr / bc1), bc2Sqrt = Float(bc2.squareRoot()), e = Float(eps)
        let lo = range.lowerBound, n = range.count
        let p = store.params.ptr + lo, g = store.grads.ptr + lo, mp = store.m.ptr + lo, vp = store.v.ptr + lo
        // each part a contiguous, 16-aligned slice: the result does not depend on the split
        let parts = n < 1 << 16 ? 1 : threads.count
        ddplm_adam_parts(parts, p, g, mp, vp, n, gradScale, b1, b2, omb2, stepSize, bc2Sqrt, e, zeroingGradients ? 1 : 0)
    }
}
