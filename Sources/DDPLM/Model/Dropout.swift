/// Inverted dropout (PyTorch's): keep with probability 1−p and scale kept values by 1/(1−p).
/// Masks are counter-based: the keep decision for an element is a hash of (seed, step, site, time step,
/// global column, unit). So a mask does not depend on how the batch is split over ranks, nor on whether
/// the run was resumed, and needs no RNG state in checkpoints.
enum Dropout {
    /// Fills mask ([T·b, width], time-major) with 0 or 1/(1−p).
    static func makeMask(_ mask: UnsafeMutablePointer<Float>, t: Int, b: Int, width: Int, p: Float,
                         seed: UInt64, step: UInt64, site: UInt64, firstColumn: Int) {
        let scale = 1 / (1 - p)
        let base = SplitMix64.mix(seed ^ SplitMix64.mix(step &* 0x9e37_79b9_7f4a_7c15 &+ site))
        let threshold = UInt64(Double(p) * 16_777_216.0)
        for s in 0..<t {
            for j in 0..<b {
                let key = SplitMix64.mix(base ^ (UInt64(s) << 32 | UInt64(firstColumn + j)))
                let m = mask + (s * b + j) * width
                for u in 0..<width {
                    let r = SplitMix64.mix(key &+ UInt64(u) &* 0xd1b5_4a32_d192_ed03) >> 40
                    m[u] = r >= threshold ? scale : 0
                }
            }
        }
    }

    static func apply(_ x: UnsafePointer<Float>, _ mask: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { out[i] = x[i] * mask[i] }
    }

    /// Backward is the same multiply, in place.
    static func backward(_ d: UnsafeMutablePointer<Float>, _ mask: UnsafePointer<Float>, _ n: Int) {
        for i in 0..<n { d[i] *= mask[i] }
    }
}
