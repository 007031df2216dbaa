/// One data-parallel training step, shared by the trainer and the benchmark: local forward/backward on
/// this rank's columns → one all-reduce of every gradient, with the loss and the stop votes riding in the
/// spare slots → ÷ N → global-norm clip → Adam (÷ N and the clip factor are applied inside the Adam
/// loop, not as extra passes). Every rank ends with the same weights. Allocates nothing.
public final class TrainingStep {
    public let model: LanguageModel
    public let adam: Adam
    let comm: Communicator
    let clip: Double

    public struct Result {
        /// Mean cross-entropy over the global batch.
        public var loss: Double
        /// Global gradient norm before clipping.
        public var gradNorm: Double
        /// Some rank was asked to stop by a signal.
        public var signalled: Bool
        /// Some rank ran out of its time budget.
        public var timeUp: Bool
        /// False when the loss or gradient was NaN/Inf: the weights were left untouched.
        public var finite: Bool
    }

    public init(model: LanguageModel, adam: Adam, comm: Communicator, clip: Double) {
        self.model = model
        self.adam = adam
        self.comm = comm
        self.clip = clip
        adam.threads = model.threads
    }

    public func run(x: UnsafePointer<Int32>, y: UnsafePointer<Int32>, t: Int, carry: RecurrentState,
                    dropout: DropoutKey?, lr: Double, signalled: Bool = false, timeUp: Bool = false, poison: Bool = false) throws -> Result {
        let p = model.parameterCount, g = model.grads.ptr, n = comm.size
        model.zeroGradients()
        let lossSum = model.trainStep(x: x, y: y, t: t, state: carry, dropout: dropout)
        g[p] = Float(lossSum / Double(t * model.batch))
        g[p + 1] = signalled ? 1 : 0
        g[p + 2] = timeUp ? 1 : 0
        if poison { g[0] = .nan }
        try comm.allReduceSum(g, count: p + LanguageModel.controlSlots)
        // g now holds the sum over ranks; the mean is g/N. Rather than a pass dividing by N, the norm of the
        // mean is ‖g‖/N and Adam scales by clip/N as it reads each gradient.
        let loss = Double(g[p]) / Double(n)
        let norm = GradClip.norm(g, count: p) / Double(n)
        let finite = loss.isFinite && norm.isFinite
        if finite {
            let scale = GradClip.coefficient(norm: norm, maxNorm: clip) / Float(n)
            adam.update(params: model.params.ptr, grads: g, lr: lr, gradScale: scale)
        }
        return Result(loss: loss, gradNorm: norm, signalled: g[p + 1] > 0, timeUp: g[p + 2] > 0, finite: finite)
    }
}
