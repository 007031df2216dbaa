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

/// One rank's slice of a row, first half (the vocab-parallel decoder): `row` += bias; returns the
/// slice's maximum and the sum of exp(row − maximum).
@inline(__always)
func biasMaxSumExpRow(_ row: UnsafeMutablePointer<Float>, _ v: Int, bias: UnsafePointer<Float>) -> (max: Float, sum: Double) {
    var m: Float = 0
    let s = ddplm_bias_max_sumexp_row(row, v, bias, &m)
    return (m, s)
}

/// Second half, once the whole row's log-sum-exp `lse` is known: `row` = scale·exp(row − lse), added
/// into `dbias` when given (the target's −scale is the caller's).
@inline(__always)
func softmaxGradientRow(_ row: UnsafeMutablePointer<Float>, _ v: Int, lse: Float, scale: Float, dbias: UnsafeMutablePointer<Float>?) {
    ddplm_softmax_grad_row(row, v, lse, scale, dbias)
}

/// Loss only: log-sum-exp(row + bias) − (row + bias)[target]. Leaves `row` = row + bias.
@inline(__always)
func crossEntropyRow(_ row: UnsafeMutablePointer<Float>, _ v: Int, bias: UnsafePointer<Float>, target: Int) -> Double {
    ddplm_xent_row(row, v, bias, target)
}
