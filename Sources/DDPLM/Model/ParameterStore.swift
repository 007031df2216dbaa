/// The single owner of a model's numeric state: the parameters, their gradients and Adam's two moments,
/// four flat buffers in `layout` order. After the `replicated` prefix (an untied embedding table on N
/// ranks, updated whole by every rank), all four are padded with zeros to `shard.padded` floats, so
/// they split into `ranks` equal optimizer shards (ZeRO-1): this rank updates parameters
/// [shard.lo, shard.hi) and the exchange moves whole `shard.chunk` blocks from `shard.base`.
final class ParameterStore {
    let layout: ParameterLayout
    /// This rank's optimizer shard (the whole buffer on one rank).
    let shard: OptimizerShard
    let ranks: Int
    /// Floats at the start that every rank updates whole, so they need no all-gather: on N ranks, the
    /// layout's sparse-row embedding table, whose gradient rows are exchanged sparsely (only rows some
    /// rank touched). 0 on one rank, or without such a table.
    let replicated: Int
    /// The parameters, once every rank's update has arrived: waits for an all-gather still in flight
    /// (`settling`). Every reader goes through here, except a training forward that awaits each range it
    /// reads (`ExchangeSchedule`) and reads `paramsInFlight`.
    var params: FloatBuffer {
        settling?.awaitSettled()
        return paramsInFlight
    }
    /// What a reader reads: with `schedule` it awaits each range itself (`paramsInFlight`); without one it
    /// gets `params`, which waits for the whole all-gather.
    func params(awaitingWith schedule: ExchangeSchedule?) -> FloatBuffer { schedule == nil ? params : paramsInFlight }
    /// The parameter buffer as it is, while the all-gather may still be writing other ranks' blocks.
    let paramsInFlight: FloatBuffer
    /// The all-gather that may still be writing into the parameters (an overlapped `TrainingStep`).
    weak var settling: ParameterSettling?
    let grads: FloatBuffer
    /// Adam's first and second moments (exp_avg, exp_avg_sq).
    let m: FloatBuffer
    let v: FloatBuffer

    init(layout: ParameterLayout, ranks: Int = 1, rank: Int = 0) {
        precondition(ranks >= 1 && rank >= 0 && rank < ranks)
        self.layout = layout
        self.ranks = ranks
        replicated = ranks > 1 ? layout.sparseRows.map { $0.rows * $0.width } ?? 0 : 0
        shard = OptimizerShard(parameters: layout.count - replicated, ranks: ranks, rank: rank, base: replicated)
        let n = max(layout.count, replicated + shard.padded)
        paramsInFlight = FloatBuffer(count: n)
        grads = FloatBuffer(count: n)
        m = FloatBuffer(count: n)
        v = FloatBuffer(count: n)
    }

    /// Parameters proper (the buffers may be longer: padding).
    var count: Int { layout.count }

    func zeroGradients() { grads.zero() }

    /// Fingerprint of the weights, for the "every rank holds the same weights" checks.
    var weightsHash: UInt64 { FNV1a64.hash(UnsafeRawBufferPointer(start: params.ptr, count: count * 4)) }
}

/// Something still writing into a store's parameters (the overlapped weight all-gather).
protocol ParameterSettling: AnyObject {
    /// Waits until it is done (a failure is reported by the next step, which then throws).
    func awaitSettled()
}
