import CKernels

/// The single owner of a model's numeric state: the parameters, their gradients and Adam's two moments,
/// four flat buffers in `layout` order. After the `replicated` prefix (an untied embedding table on N
/// ranks, updated whole by every rank), all four are padded with zeros to `shard.padded` floats, so
/// they split into `ranks` equal optimizer shards (ZeRO-1): this rank updates its pieces of the shard's
/// rounds (`shard.owned`), and the exchange moves each round's pieces in a ring of its own. With a
/// `vocabSplit`, the decoder after `shardedEnd` is not sharded but split by rows (`vocabOwned`).
/// With `NodeSharedWeights` (`useNodeShared`), the parameters and moments are one copy that every rank
/// of the node maps, and each rank updates its own rows of the replicated table there (and its vocab
/// split rows, which every rank then reads without a gather).
final class ParameterStore {
    let layout: ParameterLayout
    /// This rank's optimizer shard (the whole buffer on one rank).
    let shard: OptimizerShard
    let ranks: Int
    /// Floats at the start that every rank updates whole (or, node-shared, its rows of), so they need no
    /// all-gather: on N ranks, the layout's sparse-row embedding table, whose gradient rows are exchanged
    /// sparsely (only rows some rank touched). 0 on one rank, or without such a table.
    let replicated: Int
    /// The replicated table's rows whose gradient holds anything (nil when `replicated` is 0): its
    /// backward marks them, and `zeroGradients` zeroes only them.
    let touched: TouchedRows?
    /// What this rank's optimizer updates: its shard, the replicated table (node-shared: its rows of
    /// it), its rows of a vocab split.
    private(set) var updated: [Range<Int>]
    /// The rest of the gradient buffer after the replicated table (the other ranks' shards, padding):
    /// all that `zeroGradients` has to zero, besides the table's touched rows, after an update that
    /// zeroed `updated` as it read it.
    private var notUpdated: [Range<Int>]
    /// The parameters and moments are the node's one copy (`useNodeShared`).
    private(set) var nodeShared = false
    /// With node-shared gradients: every rank's gradient buffer, in the order this rank's pieces are
    /// summed (ranks r+1, r+2, …, r: the ring's); nil otherwise.
    private var summedGradients: UnsafeMutablePointer<UnsafePointer<Float>?>?
    /// `summedGradients`, each advanced to the piece being summed.
    private var pieceSources: UnsafeMutablePointer<UnsafePointer<Float>?>?
    /// Scratch for a piece's sums of squares, one per `DDPLM_SUMSQ_BLOCK` floats.
    private var pieceSquares: UnsafeMutablePointer<Double>?
    /// Set by `TrainingStep` when Adam has just zeroed the gradients of `updated`; cleared by
    /// `zeroGradients`.
    var updateZeroedGradients = false
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
    private(set) var paramsInFlight: FloatBuffer
    /// The all-gather that may still be writing into the parameters (an overlapped `TrainingStep`).
    weak var settling: ParameterSettling?
    private(set) var grads: FloatBuffer
    /// Adam's first and second moments (exp_avg, exp_avg_sq).
    private(set) var m: FloatBuffer
    private(set) var v: FloatBuffer

    /// The decoder split by vocabulary rows (`--vocab-parallel`, N ranks): rank r updates its own rows
    /// (`vocabOwned`), outside the sharded region, and nobody else holds their current weights until
    /// `TrainingStep.gatherWeights`.
    let vocabSplit: VocabSplit?
    /// Where the sharded region's parameters end: the layout's end, or with a vocab split the decoder's
    /// start plus the region's padding. The padding would otherwise overwrite the decoder's first floats
    /// in the all-gather, so those floats are the region's last parameters instead: their gradient
    /// comes from their row's owner alone (every other rank's is zero), so the reduce-scatter's sum is
    /// exactly the owner's (with `--grad-wire bf16`, the owner's rounded on its way, the same on every
    /// rank), and their shard's owner updates them.
    let shardedEnd: Int
    /// Where what every rank holds a copy of starts: 0, or past a tied split weight at the front.
    let replicaStart: Int

    /// `piece`: the optimizer shard's piece (`OptimizerShard`; tests), `OptimizerShard.standardPiece` unless given.
    init(layout: ParameterLayout, ranks: Int = 1, rank: Int = 0, vocabSplit: VocabSplit? = nil, piece: Int? = nil) {
        precondition(ranks >= 1 && rank >= 0 && rank < ranks)
        self.layout = layout
        self.ranks = ranks
        replicated = ranks > 1 ? layout.sparseRows.map { $0.rows * $0.width } ?? 0 : 0
        touched = replicated > 0 ? layout.sparseRows.map { TouchedRows(rows: $0.rows) } : nil
        if let split = vocabSplit {
            // untied: [replicated table | sharded | split weight | split bias]; tied: [split weight (the
            // table) | sharded | split bias]
            let front = split.weightAtFront ? split.rows * split.width : 0
            precondition(ranks > 1 && split.ranks == ranks && split.bias + split.rows == layout.count
                         && (split.weightAtFront ? split.weight == 0 && replicated == 0 : split.weight > replicated),
                         "a vocab split ends the layout (the weight at its front when tied), on N > 1 ranks")
            let base = replicated + front, end = split.weightAtFront ? split.bias : split.weight
            let upToSplit = OptimizerShard(parameters: end - base, ranks: ranks, rank: rank, base: base, piece: piece)
            let sharded = min(upToSplit.padded, layout.count - base)
            shard = OptimizerShard(parameters: sharded, ranks: ranks, rank: rank, base: base, piece: upToSplit.piece)
            precondition(shard.rounds == upToSplit.rounds)
            shardedEnd = base + sharded
            replicaStart = front
        } else {
            shard = OptimizerShard(parameters: layout.count - replicated, ranks: ranks, rank: rank, base: replicated, piece: piece)
            shardedEnd = layout.count
            replicaStart = 0
        }
        self.vocabSplit = vocabSplit
        let n = max(layout.count, shard.base + shard.padded)
        paramsInFlight = FloatBuffer(count: n)
        grads = FloatBuffer(count: n)
        (updated, notUpdated) = ParameterStore.ranges(shard.owned + [0..<replicated]
            + ParameterStore.vocabOwned(rank: rank, shard: shard, shardedEnd: shardedEnd, split: vocabSplit), replicated: replicated, count: n)
        m = FloatBuffer(count: n)
        v = FloatBuffer(count: n)
    }

    /// `updated` sorted, and the gaps between its ranges after the replicated table.
    private static func ranges(_ updates: [Range<Int>], replicated: Int, count n: Int) -> ([Range<Int>], [Range<Int>]) {
        let updated = updates.filter { !$0.isEmpty }.sorted { $0.lowerBound < $1.lowerBound }
        var gaps: [Range<Int>] = [], at = replicated
        for range in updated {
            if range.lowerBound > at { gaps.append(at..<range.lowerBound) }
            at = max(at, range.upperBound)
        }
        if at < n { gaps.append(at..<n) }
        return (updated, gaps)
    }

    /// Floats of each of the three buffers `useNodeShared` places in node-shared memory (the buffers'
    /// length, rounded up to keep each 64-byte aligned).
    var nodeSharedStride: Int { (paramsInFlight.count + 15) / 16 * 16 }

    /// Makes the parameters and moments the node's one copy, at `memory` (3 · `nodeSharedStride` floats
    /// that every rank maps; `TrainingStep.shareWeights` fills it). This rank then updates rows
    /// r·R/N … (r+1)·R/N − 1 of the replicated table's R rows instead of all of them. `gradients`:
    /// `ranks` · `nodeSharedStride` floats every rank maps, rank r's gradient at r · `nodeSharedStride`
    /// (`sumSharedGradients`); nil keeps the gradient here.
    func useNodeShared(_ memory: UnsafeMutableRawPointer, gradients: UnsafeMutableRawPointer?, rank: Int) {
        precondition(!nodeShared && settling == nil)
        let n = paramsInFlight.count, stride = nodeSharedStride
        paramsInFlight = FloatBuffer(wrapping: memory, count: n)
        m = FloatBuffer(wrapping: memory + stride * 4, count: n)
        v = FloatBuffer(wrapping: memory + 2 * stride * 4, count: n)
        if let gradients {
            let mine = FloatBuffer(wrapping: gradients + rank * stride * 4, count: n)
            mine.copy(from: grads)
            grads = mine
            let order = UnsafeMutablePointer<UnsafePointer<Float>?>.allocate(capacity: ranks)
            for k in 0..<ranks {
                order[k] = UnsafePointer((gradients + (rank + 1 + k) % ranks * stride * 4).assumingMemoryBound(to: Float.self))
            }
            summedGradients = order
            pieceSources = .allocate(capacity: ranks)
            let block = Int(DDPLM_SUMSQ_BLOCK)
            pieceSquares = .allocate(capacity: max(1, ((shard.owned.map(\.count).max() ?? 0) + block - 1) / block))
        }
        let width = layout.sparseRows?.width ?? 0, rows = width > 0 ? replicated / width : 0
        let tableRows = (rank * rows / ranks)..<((rank + 1) * rows / ranks)
        (updated, notUpdated) = ParameterStore.ranges(shard.owned + [tableRows.lowerBound * width..<tableRows.upperBound * width]
            + vocabOwned(rank: rank), replicated: replicated, count: n)
        nodeShared = true
    }

    /// The ranges rank r updates itself outside the sharded region: its rows of the vocab split's
    /// weight (before the region when tied) and bias (past `shardedEnd`). Empty without a split.
    func vocabOwned(rank r: Int) -> [Range<Int>] {
        ParameterStore.vocabOwned(rank: r, shard: shard, shardedEnd: shardedEnd, split: vocabSplit)
    }

    private static func vocabOwned(rank r: Int, shard: OptimizerShard, shardedEnd: Int, split: VocabSplit?) -> [Range<Int>] {
        guard let split else { return [] }
        return [split.weightRange(of: r), split.biasRange(of: r)].compactMap { range in
            if range.upperBound <= shard.base { return range.isEmpty ? nil : range }
            let lo = max(range.lowerBound, shardedEnd)
            return lo < range.upperBound ? lo..<range.upperBound : nil
        }
    }

    /// Parameters proper (the buffers may be longer: padding).
    var count: Int { layout.count }

    /// Zeroes the gradients: the replicated table's touched rows (the rest of it is zero already) and
    /// everything after it; or, when the update zeroed what it read (`updateZeroedGradients`), only what
    /// this rank does not update.
    func zeroGradients() {
        if updateZeroedGradients {
            updateZeroedGradients = false
            // node-shared, the table's rows outside this rank's hold the exchanged sums still
            if let touched, let table = layout.sparseRows, nodeShared { touched.zero(grads.ptr, width: table.width) } else { touched?.clear() }
            for range in notUpdated { (grads.ptr + range.lowerBound).update(repeating: 0, count: range.count) }
            return
        }
        guard let touched, let table = layout.sparseRows else { return grads.zero() }
        touched.zero(grads.ptr, width: table.width)
        (grads.ptr + replicated).update(repeating: 0, count: grads.count - replicated)
    }

    /// Whether the gradients are node-shared (`sumSharedGradients` is the reduce-scatter).
    var sharedGradients: Bool { summedGradients != nil }

    /// The reduce-scatter of node-shared gradients, once every rank's is final: each of this rank's
    /// pieces (`shard.owned`) becomes the sum over ranks in the ring's order, read straight from every
    /// rank's buffer. Other pieces are left as they are. Returns the pieces' sum of squares, the bits of
    /// `GradClip.sumOfSquares` over each piece in turn, taken in the same pass.
    func sumSharedGradients(parts: Int) -> Double {
        guard let buffers = summedGradients, let sources = pieceSources, let squares = pieceSquares else {
            preconditionFailure("the gradients are not node-shared")
        }
        var total = 0.0
        for piece in shard.owned {
            for k in 0..<ranks { sources[k] = buffers[k]! + piece.lowerBound }
            total += ddplm_sum_ordered_parts(piece.count < 1 << 16 ? 1 : parts, grads.ptr + piece.lowerBound, sources,
                                             Int32(ranks), piece.count, squares)
        }
        return total
    }

    deinit { summedGradients?.deallocate(); pieceSources?.deallocate(); pieceSquares?.deallocate() }

    /// Fingerprint of the weights, for the "every rank holds the same weights" checks.
    var weightsHash: UInt64 { FNV1a64.hash(UnsafeRawBufferPointer(start: params.ptr, count: count * 4)) }
    /// Fingerprint of what every rank holds a copy of between steps: all of it, or without a vocab split's
    /// rows (each has one owner, so there is nothing to compare).
    var replicaHash: UInt64 { FNV1a64.hash(UnsafeRawBufferPointer(start: params.ptr + replicaStart, count: (shardedEnd - replicaStart) * 4)) }
}

/// Something still writing into a store's parameters (the overlapped weight all-gather).
protocol ParameterSettling: AnyObject {
    /// Waits until it is done (a failure is reported by the next step, which then throws).
    func awaitSettled()
}
