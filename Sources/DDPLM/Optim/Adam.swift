/// `torch.optim.Adam` (no weight decay, no amsgrad), one loop over the flat buffers:
///   m = m + (1−β1)(g − m)  (lerp, as torch);  v = β2 v + (1−β2) g²
///   p −= (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε)
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

    public func update(params p: UnsafeMutablePointer<Float>, grads g: UnsafePointer<Float>, lr: Double) {
        step += 1
        let bc1 = 1 - pow(beta1, Double(step))
        let bc2 = 1 - pow(beta2, Double(step))
        let stepSize = Float(lr / bc1)
        let bc2Sqrt = Float(bc2.squareRoot())
        let b2 = Float(beta2), e = Float(eps)
        let omb1 = Float(1 - beta1), omb2 = Float(1 - beta2)
        let mp = m.ptr, vp = v.ptr
        for i in 0..<count {
            let gi = g[i]
            let mi = mp[i] + omb1 * (gi - mp[i])  // torch: exp_avg.lerp_(grad, 1 - β1)
            let vi = b2 * vp[i] + omb2 * gi * gi
            mp[i] = mi
            vp[i] = vi
            p[i] -= stepSize * (mi / (vi.squareRoot() / bc2Sqrt + e))
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
