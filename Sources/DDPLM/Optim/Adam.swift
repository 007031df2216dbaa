import CKernels

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

    public init(count: Int) {
        self.count = count
        m = FloatBuffer(count: count)
        v = FloatBuffer(count: count)
    }

    public func update(params p: UnsafeMutablePointer<Float>, grads g: UnsafePointer<Float>, lr: Double, gradScale: Float = 1) {
        step += 1
        let bc1 = 1 - pow(beta1, Double(step))
        let bc2 = 1 - pow(beta2, Double(step))
        ddplm_adam(p, g, m.ptr, v.ptr, count, gradScale, Float(1 - beta1), Float(beta2), Float(1 - beta2),
                   Float(lr / bc1), Float(bc2.squareRoot()), Float(eps))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
