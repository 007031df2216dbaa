import CKernels
import Dispatch

/// `torch.optim.Adam` (no weight decay, no amsgrad), one vectorised loop over the flat buffers:
///   m = m + (1−β1)(g − m)  (lerp, as torch);  v = β2 v + (1−β2) g²
///   p −= (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε)
/// `gradScale` multiplies the gradient first: the clip coefficient, applied here instead of in a
/// separate pass over the gradients (the same float product either way).
public final class Adam {
    public let count: Int
    public let m: FloatBuffer
    public let v: FloatBuffer
    public var step: Int = 0
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    public var eps: Double = 1e-8
    /// Threads for the update loop (each takes a contiguous slice; the result does not depend on it).
    public var threads = 1

    /// `capacity` ≥ count pads the moment buffers like the parameters (for per-rank shards).
    public init(count: Int, capacity: Int = 0) {
        self.count = count
        m = FloatBuffer(count: max(count, capacity))
        v = FloatBuffer(count: max(count, capacity))
    }

    /// Updates every parameter.
    public func update(params p: UnsafeMutablePointer<Float>, grads g: UnsafePointer<Float>, lr: Double, gradScale: Float = 1) {
        update(params: p, grads: g, lr: lr, gradScale: gradScale, offset: 0, length: count)
    }

    /// Updates parameters [offset, offset + length) only — one rank's optimizer shard; `g` points at the
    /// shard's gradients (g[0] belongs to parameter `offset`). Counts as one step.
    public func update(params p: UnsafeMutablePointer<Float>, grads g: UnsafePointer<Float>, lr: Double, gradScale: Float,
                       offset: Int, length n: Int) {
        step += 1
        let bc1 = 1 - pow(beta1, Double(step))
        let bc2 = 1 - pow(beta2, Double(step))
        let b1 = Float(1 - beta1), b2 = Float(beta2), omb2 = Float(1 - beta2)
        let stepSize = Float(lr / bc1), bc2Sqrt = Float(bc2.squareRoot()), e = Float(eps)
        let p = p + offset, mp = m.ptr + offset, vp = v.ptr + offset
        if threads <= 1 || n < 1 << 16 {
            ddplm_adam(p, g, mp, vp, n, gradScale, b1, b2, omb2, stepSize, bc2Sqrt, e)
            return
        }
        let parts = threads
        DispatchQueue.concurrentPerform(iterations: parts) { k in
            let lo = n * k / parts & ~15, hi = k == parts - 1 ? n : n * (k + 1) / parts & ~15
            ddplm_adam(p + lo, g + lo, mp + lo, vp + lo, hi - lo, gradScale, b1, b2, omb2, stepSize, bc2Sqrt, e)
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
