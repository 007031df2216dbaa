import CKernels

/// Elementwise math for the step: thin Swift names over the vectorised C kernels in `CKernels`
/// (see ddplm_kernels.h). `Tests/DDPLMTests/KernelTests` holds their plain-Swift twins.

@inline(__always)
func vsigmoid(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) { ddplm_vsigmoid(src, dst, n) }

@inline(__always)
func vtanh(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) { ddplm_vtanh(src, dst, n) }

/// y[k] += Σ_p parts[p·width + k], part 0 first: the per-thread partial sums of a bias gradient (the
/// decoders' softmax rows), added in one fixed order.
func addParts(_ parts: UnsafePointer<Float>, count: Int, width: Int, into y: UnsafeMutablePointer<Float>) {
    for p in 0..<count {
        let part = parts + p * width
        for k in 0..<width { y[k] += part[k] }
    }
}
