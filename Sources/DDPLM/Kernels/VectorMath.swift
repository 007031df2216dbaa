import CKernels

/// Elementwise math for the step: thin Swift names over the vectorised C kernels in `CKernels`
/// (see ddplm_kernels.h). `Tests/DDPLMTests/KernelTests` holds their plain-Swift twins.

@inline(__always)
func vexp(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) { ddplm_vexp(src, dst, n) }

@inline(__always)
func vsigmoid(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) { ddplm_vsigmoid(src, dst, n) }

@inline(__always)
func vtanh(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) { ddplm_vtanh(src, dst, n) }
