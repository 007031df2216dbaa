import Dispatch

/// One rank's slice of the optimizer: parameters [lo, hi) of the flat buffer. Buffers are padded to
/// `padded` = ranks · chunk floats so every rank's block has the same size (a multiple of 16).
public struct OptimizerShard: Sendable {
    public let chunk: Int
    public let padded: Int
    public let lo: Int
    public let hi: Int

    public init(parameters p: Int, ranks n: Int, rank r: Int) {
        chunk = ((p + n - 1) / n + 15) & ~15
        padded = chunk * n
        lo = min(p, r * chunk)
        hi = min(p, (r + 1) * chunk)
    }
}

/// One data-parallel training step, shared by the trainer and the benchmark.
/// One rank: forward/backward → global-norm clip → Adam.
/// N ranks (ZeRO-1 style): forward/backward on this rank's columns → reduce-scatter of the gradients
/// (each rank receives the sum for its optimizer shard) → the global norm from the shards' sums of
/// squares → Adam on this rank's shard only → all-gather of the updated parameters. That moves the same
/// bytes as one all-reduce, and the Adam pass — which every rank would otherwise repeat over all
/// parameters — is split N ways. ÷ N and the clip factor are applied inside the Adam loop. Every rank
/// ends with the same weights. Allocates nothing.
public final class TrainingStep {
    public let model: LanguageModel
    public let adam: Adam
    let comm: Communicator
    let clip: Double
    public let shard: OptimizerShard
    let control: UnsafeMutablePointer<Double>
    /// Seconds spent per phase, accumulated over steps: compute (forward+backward), gradient exchange
    /// (reduce-scatter, or nothing on one rank), norm (sum of squares + the small all-reduce), Adam,
    /// weight all-gather.
    public static let phaseNames = ["compute", "grad_exchange", "norm_allreduce", "adam", "weight_allgather"]
    private var phaseClock: UInt64 = 0
    private var phaseBuffer: UnsafeMutablePointer<Double>

    @inline(__always) private func lap(_ phase: Int) {
        let now = DispatchTime.now().uptimeNanoseconds
        phaseBuffer[phase] += Double(now &- phaseClock) / 1e9
        phaseClock = now
    }

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

    /// Builds the model and Adam with buffers padded for `comm.size` optimizer shards.
    public convenience init(config: ModelConfig, batch: Int, maxT: Int, chunkRows: Int, threads: Int,
                            comm: Communicator, clip: Double) {
        let capacity = OptimizerShard(parameters: ParameterLayout(config).count, ranks: comm.size, rank: 0).padded
        let model = LanguageModel(config: config, batch: batch, maxT: maxT, chunkRows: chunkRows, threads: threads, capacity: capacity)
        self.init(model: model, adam: Adam(count: model.parameterCount, capacity: capacity), comm: comm, clip: clip)
    }

    public init(model: LanguageModel, adam: Adam, comm: Communicator, clip: Double) {
        self.model = model
        self.adam = adam
        self.comm = comm
        self.clip = clip
        shard = OptimizerShard(parameters: model.parameterCount, ranks: comm.size, rank: comm.rank)
        precondition(comm.size == 1 || (model.params.count >= shard.padded && model.grads.count >= shard.padded
                                         && adam.m.count >= shard.padded), "buffers not padded for \(comm.size) shards")
        control = .allocate(capacity: 4)
        phaseBuffer = .allocate(capacity: 5)
        phaseBuffer.initialize(repeating: 0, count: 5)
        adam.threads = model.threads
    }

    deinit { control.deallocate(); phaseBuffer.deallocate() }

    /// Per-phase seconds accumulated so far (see `phaseNames`).
    public var phases: [Double] { (0..<5).map { phaseBuffer[$0] } }
    public func resetPhases() { for i in 0..<5 { phaseBuffer[i] = 0 } }

    public func run(x: UnsafePointer<Int32>, y: UnsafePointer<Int32>, t: Int, carry: RecurrentState,
                    dropout: DropoutKey?, lr: Double, signalled: Bool = false, timeUp: Bool = false, poison: Bool = false) throws -> Result {
        let p = model.parameterCount, g = model.grads.ptr, n = comm.size
        phaseClock = DispatchTime.now().uptimeNanoseconds
        model.zeroGradients()
        let lossSum = model.trainStep(x: x, y: y, t: t, state: carry, dropout: dropout)
        if poison { g[0] = .nan }
        control[0] = lossSum / Double(t * model.batch)
        control[1] = signalled ? 1 : 0
        control[2] = timeUp ? 1 : 0
        lap(0)
        if n == 1 {
            control[3] = GradClip.sumOfSquares(g, count: p)
        } else {
            try comm.reduceScatterSum(g, countPerRank: shard.chunk)
            lap(1)
            control[3] = GradClip.sumOfSquares(g + shard.lo, count: shard.hi - shard.lo)
        }
        try comm.allReduceSum(control, count: 4)
        lap(2)
        // the gradients hold sums over ranks; the mean is sum/N, so its norm is ‖sum‖/N
        let loss = control[0] / Double(n)
        let norm = control[3].squareRoot() / Double(n)
        let finite = loss.isFinite && norm.isFinite
        if finite {
            let scale = GradClip.coefficient(norm: norm, maxNorm: clip) / Float(n)
            if n == 1 {
                adam.update(params: model.params.ptr, grads: g, lr: lr, gradScale: scale)
                lap(3)
            } else {
                adam.update(params: model.params.ptr, grads: g + shard.lo, lr: lr, gradScale: scale,
                            offset: shard.lo, length: shard.hi - shard.lo)
                lap(3)
                try comm.allGather(model.params.ptr, countPerRank: shard.chunk)
                lap(4)
            }
        }
        return Result(loss: loss, gradNorm: norm, signalled: control[1] > 0, timeUp: control[2] > 0, finite: finite)
    }

    /// Brings every rank's Adam moments together (each rank only updates its shard's); for checkpoints.
    public func gatherOptimizerState() throws {
        guard comm.size > 1 else { return }
        try comm.allGather(adam.m.ptr, countPerRank: shard.chunk)
        try comm.allGather(adam.v.ptr, countPerRank: shard.chunk)
    }
}
