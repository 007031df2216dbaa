import Foundation

/// The exchange of `TrainingStep` overlapped with the compute: the gradient reduce-scatter with the
/// backward pass, and the weight all-gather with the next step's forward.
///
/// The sharded region (`OptimizerShard`: rounds of N pieces, rank r owning the r-th of each) is cut into
/// segments at the same relative offsets [a, b) of every piece of a round (`Segment`). A segment's
/// reduce-scatter is the ring over those N parts: each element is summed exactly as the whole round's
/// ring sums it, so the weights are bit-identical with and without overlap. The model reports gradient ranges as they become final
/// (`ExchangeSchedule`); when every float of a segment is final, the segment goes to the exchange
/// thread, which runs its ring on a second channel (`Communicator.makeExchangeChannel`) while the main
/// thread goes on computing. `finish` hands over whatever was never reported and waits.
///
/// After Adam, `startAllGather` queues the updated weights' all-gather in ascending segment order and
/// returns: the next forward waits only for the ranges it is about to read (`awaitParameters`): each
/// recurrent layer's W_ih, then the rest of that layer, then the decoder's rows piece by piece. The
/// rounds make both ends work: the last layers' rounds are whole (and reduced) while the first layers
/// are still in the backward, and the first layers' rounds arrive first in the next forward.
/// Anything else that reads the weights goes through `ParameterStore.params`, which waits for the whole
/// all-gather (`settle`).
///
/// The replicated embedding table before the sharded region is summed by its touched rows
/// (`SparseRowExchange`): the rows' marks go to the exchange thread when the model has marked them (at
/// the forward's start, `rowsMarked`), and the rows when it reports the table final, in the FIFO between
/// the segments, so that they travel while the first layer's weight gradients are computed.
///
/// Segments start at tensor boundaries (a model's layers become final one by one) and are cut as
/// `Limits` says (at most an eighth of a piece, or `Limits.maximum` floats if that is more, and never more
/// than `maxExchangeSegmentBytes`), so the decoder's weight gradient, finished in `rowOrder`, streams out
/// while its last rows and the recurrent layers' backward are computed. Allocates nothing per step.
final class OverlappedExchange: ExchangeSchedule, ParameterSettling {
    let ranks: Int
    /// The segments, in ascending order of the region (`plan`).
    let plan: [Segment]
    /// Tests: do not exchange during the compute; at `finish`, check that every segment handed over
    /// early still holds what it held then (a model that reports a range too early fails here). And
    /// gather weights only when awaited, other ranks' pieces NaN until then (a model that reads a range
    /// before awaiting it computes NaN).
    var verifyFinality = false
    let rank: Int
    private var gatherQueued = 0

    private let worker: ExchangeWorker
    private let parameters: Int
    /// The sparse exchange of the table in [0, `replicated`), if any, and whether it was handed this step.
    private let rows: SparseRowExchange?
    private let replicated: Int
    private var rowsHanded = false
    private var rowsFingerprint: UInt64 = 0
    /// Floats of each segment that are parameters (padding is zeros, final from the start).
    private var initialPending: [Int] = []
    private let pending: UnsafeMutablePointer<Int>
    private let handed: UnsafeMutablePointer<Bool>
    private let fingerprints: UnsafeMutablePointer<UInt64>
    private var computeEnd: UInt64 = 0
    private var firstHanded: UInt64 = 0

    var segments: Int { plan.count }

    /// `grads`: the store's gradient buffer; `parameters`: floats that are real parameters (the rest of
    /// the padded region is zeros, final from the start); `cuts`: flat offsets of tensor boundaries.
    init(grads: FloatBuffer, params: FloatBuffer, shard: OptimizerShard, ranks: Int, rank: Int,
         parameters: Int, cuts: [Int], wire: GradientWire, channel: ExchangeChannel, rows: SparseRowExchange? = nil,
         limits: Limits = .standard) {
        self.rank = rank
        self.rows = rows
        replicated = shard.base
        self.ranks = ranks
        self.parameters = parameters
        let plan = OverlappedExchange.plan(shard: shard, ranks: ranks, cuts: cuts, limits: limits)
        self.plan = plan
        let s = plan.count
        gatherQueued = s
        pending = .allocate(capacity: s)
        handed = .allocate(capacity: s)
        fingerprints = .allocate(capacity: s)
        worker = ExchangeWorker(grads: grads, params: params, plan: plan, rows: rows, wire: wire, channel: channel)
        initialPending = plan.map { segment in
            (0..<ranks).reduce(0) { sum, r in sum + max(0, min(segment.span(r).upperBound, parameters) - segment.span(r).lowerBound) }
        }
    }

    deinit {
        // no waiting here: after an error the last all-gather may never end (a stopped rank), and the
        // job is about to abort. The worker keeps the buffers it writes alive until it is done.
        worker.stop()
        pending.deallocate()
        handed.deallocate()
        fingerprints.deallocate()
    }

    /// Starts a step: nothing is final yet (call after the gradients were zeroed).
    func begin() {
        worker.resetReduce()
        computeEnd = 0
        firstHanded = 0
        rowsHanded = false
        for k in 0..<segments {
            pending[k] = initialPending[k]
            handed[k] = false
        }
        for k in 0..<segments where pending[k] == 0 { hand(k) }
    }

    /// The segments holding any of `range` (flat offsets) in some piece: the last of them, or -1.
    private func lastSegment(touching range: Range<Int>) -> Int {
        for k in stride(from: segments - 1, through: 0, by: -1) where plan[k].start < range.upperBound {
            for r in 0..<ranks where plan[k].span(r).overlaps(range) { return k }
        }
        return -1
    }

    func awaitParameters(_ range: Range<Int>) {
        let k = lastSegment(touching: range)
        if k >= 0 { awaitGathered(k + 1) }
    }

    /// Queues the all-gather's segments up to `count` (all are queued at once, except in `verifyFinality`).
    private func queueGathers(upTo count: Int) {
        while gatherQueued < count { worker.enqueue(.gather(gatherQueued)); gatherQueued += 1 }
    }

    private func awaitGathered(_ count: Int) {
        queueGathers(upTo: count)
        if worker.hasGathered(count) { return }
        let t0 = DispatchTime.now().uptimeNanoseconds
        worker.awaitGathered(count)
        waitedNanoseconds += DispatchTime.now().uptimeNanoseconds - t0
    }

    /// Nanoseconds the caller spent blocked on weights not yet arrived (reset by the reader).
    var waitedNanoseconds: UInt64 = 0

    /// Queues the all-gather of the weights Adam just updated (this rank's pieces), segment by segment in
    /// ascending order, and returns.
    func startAllGather() {
        worker.resetGather()
        gatherQueued = 0
        if verifyFinality {
            for segment in plan {
                for r in 0..<ranks where r != rank { (worker.params + segment.span(r).lowerBound).update(repeating: .nan, count: segment.length) }
            }
            return
        }
        queueGathers(upTo: segments)
    }

    func awaitSettled() { awaitGathered(segments) }

    /// Waits for the whole all-gather; throws if it failed.
    func settle() throws {
        awaitGathered(segments)
        try worker.gatherFailure()
    }

    func rowsMarked() {
        // (verifyFinality: exchanged with the rows at the end)
        if rows != nil, !verifyFinality { worker.enqueue(.marks) }
    }

    func gradientsFinal(_ range: Range<Int>) {
        if rows != nil, range.lowerBound < replicated {
            precondition(range == 0..<replicated, "the replicated table \(0..<replicated) is reported final whole, not \(range)")
            precondition(!rowsHanded, "gradient range \(range) reported final twice")
            rowsHanded = true
            if verifyFinality { rowsFingerprint = tableFingerprint() } else { worker.enqueue(.rows) }
            return
        }
        for k in 0..<segments where !handed[k] && plan[k].start < range.upperBound {
            for r in 0..<ranks {
                let span = plan[k].span(r)
                let n = min(span.upperBound, range.upperBound, parameters) - max(span.lowerBound, range.lowerBound)
                if n > 0 { pending[k] -= n }
            }
            precondition(pending[k] >= 0, "gradient range \(range) reported final twice")
            if pending[k] == 0 { hand(k) }
        }
    }

    func rowOrder(offset: Int, rows: Int, width: Int) -> [Range<Int>] {
        OverlappedExchange.rowOrder(offset: offset, rows: rows, width: width, ranks: ranks, plan: plan)
    }

    /// `rowOrder` for a segment plan on `ranks` ranks: the rows of the last segments first, so that whole
    /// segments become final soonest.
    static func rowOrder(offset: Int, rows: Int, width: Int, ranks: Int, plan: [Segment]) -> [Range<Int>] {
        var order: [Range<Int>] = []
        var assigned = [Bool](repeating: false, count: rows)  // a row across a segment or block edge goes first time
        /// Appends the runs of rows in lo..<hi not yet ordered.
        func claim(_ lo: Int, _ hi: Int) {
            var i = lo
            while i < hi {
                while i < hi && assigned[i] { i += 1 }
                let first = i
                while i < hi && !assigned[i] { assigned[i] = true; i += 1 }
                if i > first { order.append(first..<i) }
            }
        }
        for segment in plan.reversed() {
            for r in 0..<ranks {
                let a = max(segment.span(r).lowerBound, offset) - offset, b = min(segment.span(r).upperBound, offset + rows * width) - offset
                if b > a { claim(a / width, (b + width - 1) / width) }
            }
        }
        claim(0, rows)  // rows outside the sharded region (none for a tensor inside it) go last
        return order
    }

    private func hand(_ k: Int) {
        handed[k] = true
        if firstHanded == 0 { firstHanded = DispatchTime.now().uptimeNanoseconds }
        if verifyFinality { fingerprints[k] = fingerprint(k); return }
        worker.enqueue(.reduce(k))
    }

    private func tableFingerprint() -> UInt64 {
        var h = FNV1a64()
        h.add(UnsafeRawBufferPointer(start: worker.grads, count: replicated * 4))
        return h.value
    }

    private func fingerprint(_ k: Int) -> UInt64 {
        var h = FNV1a64()
        for r in 0..<ranks {
            h.add(UnsafeRawBufferPointer(start: worker.grads + plan[k].span(r).lowerBound, count: plan[k].length * 4))
        }
        return h.value
    }

    /// Hands over every segment not yet handed (last first, as the backward would) and waits for all.
    /// Rethrows the exchange thread's error.
    func finish() throws {
        computeEnd = DispatchTime.now().uptimeNanoseconds
        queueGathers(upTo: segments)  // (verifyFinality: what the compute never awaited), before the reduce-scatter
        if verifyFinality {
            for k in 0..<segments where handed[k] {
                precondition(fingerprint(k) == fingerprints[k], "exchange segment \(k) was reported final but changed afterwards")
            }
            if rows != nil {
                precondition(!rowsHanded || tableFingerprint() == rowsFingerprint, "the replicated table was reported final but changed afterwards")
                worker.enqueue(.rows)
            }
            for k in 0..<segments { worker.enqueue(.reduce(k)) }
        } else {
            if rows != nil && !rowsHanded { worker.enqueue(.rows) }
            for k in stride(from: segments - 1, through: 0, by: -1) where !handed[k] { hand(k) }
        }
        try worker.awaitReduced()
        try worker.gatherFailure()  // the previous step's all-gather, queued before
    }

    /// Seconds the exchange thread spent on segments before this step's compute ended (hidden behind it).
    var overlappedSeconds: Double { worker.busySeconds(before: computeEnd) }
    /// Seconds from the first segment's handover to the end of this step's compute: the most the
    /// exchange could hide behind it.
    var windowSeconds: Double { firstHanded > 0 && firstHanded < computeEnd ? Double(computeEnd - firstHanded) / 1e9 : 0 }
}
