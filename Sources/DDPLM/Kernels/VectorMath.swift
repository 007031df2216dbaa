import CKernels

/// Elementwise math for the step: thin Swift names over the vectorised C kernels in `CKernels`
/// (see ddplm_kernels.h). `Tests/DDPLMTests/KernelTests` holds their plain-Swift twins.

@inline(__always)
func vexp(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) { ddplm_vexp(src, dst, n) }

@inline(__always)
func vsigmoid(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) { ddplm_vsigmoid(src, dst, n) }

@inline(__always)
func vtanh(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) { ddplm_vtanh(src, dst, n) }

/// One row of the fused decoder softmax–cross-entropy.
/// On entry `row` holds the V logits without bias; on exit it holds scale·(softmax − onehot(target)),
/// i.e. dLoss/dlogits for a loss of scale·CE; that row is also added into `dbias` when given.
/// Returns the row's CE, −log softmax(row + bias)[target].
@inline(__always)
func softmaxCrossEntropyRow(_ row: UnsafeMutablePointer<Float>, _ v: Int, bias: UnsafePointer<Float>, target: Int,
                                   scale: Float, dbias: UnsafeMutablePointer<Float>?) -> Double {
    ddplm_softmax_xent_row(row, v, bias, target, scale, dbias)
}

/// Loss only: log-sum-exp(row + bias) − (row + bias)[target]. Leaves `row` = row + bias.
@inline(__always)
func crossEntropyRow(_ row: UnsafeMutablePointer<Float>, _ v: Int, bias: UnsafePointer<Float>, target: Int) -> Double {
    ddplm_xent_row(row, v, bias, target)
}
