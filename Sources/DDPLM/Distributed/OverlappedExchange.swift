import Foundation

/// The exchange of `TrainingStep` overlapped with the compute: the gradient reduce-scatter with the
/// backward pass, and the weight all-gather with the next step's forward.
///
/// The sharded region (`OptimizerShard`: N blocks of `chunk` floats from `base`) is cut into segments
/// at the same relative offsets [a, b) of every block. A segment's reduce-scatter is the ring over those
/// N sub-blocks: each element is summed exactly as the whole-block ring sums it, so the weights are
/// bit-identical with and without overlap. The model reports gradient ranges as they become final
/// (`ExchangeSchedule`); when every float of a segment is final, the segment goes to the exchange
/// thread, which runs its ring on a second channel (`Communicator.makeExchangeChannel`) while the main
/// thread goes on computing. `finish` hands over whatever was never reported and waits.
///
/// After Adam, `startAllGather` queues the updated weights' all-gather in ascending segment order and
/// returns: the next forward waits only for the ranges it is about to read (`awaitParameters`), the
/// recurrent layers first, the decoder's rows piece by piece. Anything else that reads the weights
/// goes through `ParameterStore.params`, which waits for the whole all-gather (`settle`).
///
/// Segments start at tensor boundaries (a model's layers become final one by one) and are cut as
/// `Limits` says (at most an eighth of a block, or `Limits.maximum` floats if that is more, and never more
/// than `maxExchangeSegmentBytes`), so the decoder's weight gradient, finished in `rowOrder`, streams out
/// while its last rows and the recurrent layers' backward are computed. Allocates nothing per step.
final class OverlappedExchange: ExchangeSchedule, ParameterSettling {
    let base: Int
    let chunk: Int
    let ranks: Int
    /// Segment boundaries, relative to a block's start: 0 = bounds[0] < … < bounds[S] = chunk.
    let bounds: [Int]
    /// Tests: do not exchange during the compute; at `finish`, check that every segment handed over
    /// early still holds what it held then (a model that reports a range too early fails here). And
    /// gather weights only when awaited, other ranks' blocks NaN until then (a model that reads a range
    /// before awaiting it computes NaN).
    var verifyFinality = false
    let rank: Int
    private var gatherQueued = 0

    private let worker: Worker
    private let parameters: Int
    /// Floats of each segment that are parameters (padding is zeros, final from the start).
    private var initialPending: [Int] = []
    private let pending: UnsafeMutablePointer<Int>
    private let handed: UnsafeMutablePointer<Bool>
    private let fingerprints: UnsafeMutablePointer<UInt64>
    private var computeEnd: UInt64 = 0
    private var firstHanded: UInt64 = 0

    var segments: Int { bounds.count - 1 }

    /// Flat offsets of segment `k` in rank `r`'s block.
    private func span(_ k: Int, block r: Int) -> Range<Int> {
        base + r * chunk + bounds[k]..<base + r * chunk + bounds[k + 1]
    }

    /// Segment sizes in floats: tensor boundaries closer than `minimum` are merged, and a segment is cut
    /// into equal parts of at most min(`cap`, max(`maximum`, chunk / `perBlock`)). The cap is
    /// `maxExchangeSegmentBytes`, under the TCP eager limit the MPI communicator sets from it.
    struct Limits: Sendable {
        var minimum = 16_384
        var maximum = 65_536
        var perBlock = 8
        var cap = maxExchangeSegmentBytes / MemoryLayout<Float>.size
        static let standard = Limits()
    }

    /// `grads`: the store's gradient buffer; `parameters`: floats that are real parameters (the rest of
    /// the padded region is zeros, final from the start); `cuts`: flat offsets of tensor boundaries.
    init(grads: FloatBuffer, params: FloatBuffer, shard: OptimizerShard, ranks: Int, rank: Int,
         parameters: Int, cuts: [Int], wire: GradientWire, channel: ExchangeChannel, limits: Limits = .standard) {
        base = shard.base
        self.rank = rank
        chunk = shard.chunk
        self.ranks = ranks
        self.parameters = parameters
        bounds = OverlappedExchange.plan(base: shard.base, chunk: shard.chunk, ranks: ranks, cuts: cuts, limits: limits)
        let s = bounds.count - 1
        gatherQueued = s
        pending = .allocate(capacity: s)
        handed = .allocate(capacity: s)
        fingerprints = .allocate(capacity: s)
        worker = Worker(grads: grads, params: params, base: shard.base, bounds: bounds, stride: shard.chunk, wire: wire, channel: channel)
        initialPending = (0..<s).map { k in
            (0..<ranks).reduce(0) { sum, r in sum + max(0, min(span(k, block: r).upperBound, parameters) - span(k, block: r).lowerBound) }
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

    /// Segment boundaries: tensor boundaries (relative to each block), merged and cut per `limits`.
    static func plan(base: Int, chunk: Int, ranks: Int, cuts: [Int], limits: Limits = .standard) -> [Int] {
        var points: [Int] = []
        for c in cuts {
            for r in 0..<ranks {
                let rel = c - base - r * chunk
                if rel > 0 && rel < chunk { points.append(rel) }
            }
        }
        points.sort()
        let minimum = max(1, limits.minimum), maximum = min(max(1, limits.cap), max(1, limits.maximum, chunk / max(1, limits.perBlock)))
        var kept = [0]
        for p in points where p - kept.last! >= minimum && chunk - p >= minimum { kept.append(p) }
        kept.append(chunk)
        var bounds = [0]
        for k in 1..<kept.count {
            let lo = kept[k - 1], len = kept[k] - lo
            let parts = max(1, (len + maximum - 1) / maximum)
            for j in 1...parts { bounds.append(lo + len * j / parts) }
        }
        return bounds
    }

    /// Starts a step: nothing is final yet (call after the gradients were zeroed).
    func begin() {
        worker.resetReduce()
        computeEnd = 0
        firstHanded = 0
        for k in 0..<segments {
            pending[k] = initialPending[k]
            handed[k] = false
        }
        for k in 0..<segments where pending[k] == 0 { hand(k) }
    }

    /// The segments holding any of `range` (flat offsets) in some block: the last of them, or -1.
    private func lastSegment(touching range: Range<Int>) -> Int {
        var last = -1
        for r in 0..<ranks {
            let lo = max(range.lowerBound - base - r * chunk, 0), hi = min(range.upperBound - base - r * chunk, chunk)
            guard hi > lo else { continue }
            var k = segments - 1
            while bounds[k] >= hi { k -= 1 }
            last = max(last, k)
        }
        return last
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

    /// Queues the all-gather of the weights Adam just updated (this rank's block), segment by segment in
    /// ascending order, and returns.
    func startAllGather() {
        worker.resetGather()
        gatherQueued = 0
        if verifyFinality {
            for r in 0..<ranks where r != rank { (worker.params + r * chunk).update(repeating: .nan, count: chunk) }
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

    func gradientsFinal(_ range: Range<Int>) {
        for k in 0..<segments where !handed[k] {
            for r in 0..<ranks {
                let n = min(span(k, block: r).upperBound, range.upperBound, parameters) - max(span(k, block: r).lowerBound, range.lowerBound)
                if n > 0 { pending[k] -= n }
            }
            precondition(pending[k] >= 0, "gradient range \(range) reported final twice")
            if pending[k] == 0 { hand(k) }
        }
    }

    func rowOrder(offset: Int, rows: Int, width: Int) -> [Range<Int>] {
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
        for k in stride(from: segments - 1, through: 0, by: -1) {
            for r in 0..<ranks {
                let a = max(span(k, block: r).lowerBound, offset) - offset, b = min(span(k, block: r).upperBound, offset + rows * width) - offset
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

    private func fingerprint(_ k: Int) -> UInt64 {
        var h = FNV1a64()
        for r in 0..<ranks {
            h.add(UnsafeRawBufferPointer(start: worker.grads + r * chunk + bounds[k], count: (bounds[k + 1] - bounds[k]) * 4))
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
            for k in 0..<segments { worker.enqueue(.reduce(k)) }
        } else {
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

    /// The exchange thread and everything it touches. The thread holds the worker, not the exchange, so
    /// the exchange's deinit can stop it. Jobs run in the order queued (a FIFO): a step's reduce-scatter
    /// segments always follow the previous step's all-gather.
    private final class Worker: @unchecked Sendable {
        enum Job { case reduce(Int), gather(Int) }

        let grads: UnsafeMutablePointer<Float>
        let params: UnsafeMutablePointer<Float>
        /// The store's buffers, held so that a job still running after the exchange is gone writes into
        /// live memory.
        private let buffers: [FloatBuffer]
        let bounds: [Int]
        let stride: Int
        let wire: GradientWire
        let channel: ExchangeChannel
        private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        private let work = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        private let progress = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        private let queue: UnsafeMutablePointer<Job>
        private let capacity: Int
        private let started: UnsafeMutablePointer<UInt64>
        private let ended: UnsafeMutablePointer<UInt64>
        private var queued = 0, taken = 0
        private var reduced = 0, gathered = 0
        private var stopping = false
        private var reduceError: Error?
        private var gatherError: Error?

        init(grads: FloatBuffer, params: FloatBuffer, base: Int, bounds: [Int], stride: Int, wire: GradientWire,
             channel: ExchangeChannel) {
            self.grads = grads.ptr + base
            self.params = params.ptr + base
            buffers = [grads, params]
            self.bounds = bounds
            self.stride = stride
            self.wire = wire
            self.channel = channel
            let s = bounds.count - 1
            capacity = 2 * s + 1
            queue = .allocate(capacity: capacity)
            started = .allocate(capacity: s)
            ended = .allocate(capacity: s)
            started.initialize(repeating: 0, count: s)
            ended.initialize(repeating: 0, count: s)
            gathered = s
            pthread_mutex_init(mutex, nil)
            pthread_cond_init(work, nil)
            pthread_cond_init(progress, nil)
            let thread = Thread { [self] in self.loop() }
            thread.name = "ddplm-exchange"
            thread.start()
        }

        deinit {
            pthread_cond_destroy(work); pthread_cond_destroy(progress); pthread_mutex_destroy(mutex)
            mutex.deallocate(); work.deallocate(); progress.deallocate()
            queue.deallocate(); started.deallocate(); ended.deallocate()
        }

        private var segments: Int { bounds.count - 1 }

        /// A new step's reduce-scatter (the previous one is complete).
        func resetReduce() {
            pthread_mutex_lock(mutex)
            reduced = 0; reduceError = nil
            for k in 0..<segments { started[k] = 0; ended[k] = 0 }
            pthread_mutex_unlock(mutex)
        }

        /// A new all-gather (the previous one is complete: this step's reduce-scatter, queued after it, is).
        func resetGather() {
            pthread_mutex_lock(mutex)
            gathered = 0; gatherError = nil
            pthread_mutex_unlock(mutex)
        }

        func enqueue(_ job: Job) {
            pthread_mutex_lock(mutex)
            precondition(queued - taken < capacity, "exchange queue overflow")
            queue[queued % capacity] = job
            queued += 1
            pthread_cond_signal(work)
            pthread_mutex_unlock(mutex)
        }

        func awaitReduced() throws {
            pthread_mutex_lock(mutex)
            while reduced < segments { pthread_cond_wait(progress, mutex) }
            let error = reduceError
            pthread_mutex_unlock(mutex)
            if let error { throw error }
        }

        func hasGathered(_ count: Int) -> Bool {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            return gathered >= count
        }

        /// Waits until the first `count` segments of the all-gather are in.
        func awaitGathered(_ count: Int) {
            pthread_mutex_lock(mutex)
            while gathered < count { pthread_cond_wait(progress, mutex) }
            pthread_mutex_unlock(mutex)
        }

        func gatherFailure() throws {
            pthread_mutex_lock(mutex)
            let error = gatherError
            pthread_mutex_unlock(mutex)
            if let error { throw error }
        }

        func stop() {
            pthread_mutex_lock(mutex)
            stopping = true
            pthread_cond_signal(work)
            pthread_mutex_unlock(mutex)
        }

        func busySeconds(before end: UInt64) -> Double {
            var total: UInt64 = 0
            for k in 0..<segments where started[k] > 0 && started[k] < end {
                total += min(ended[k], end) - started[k]
            }
            return Double(total) / 1e9
        }

        private func loop() {
            pthread_mutex_lock(mutex)
            while true {
                while taken == queued && !stopping { pthread_cond_wait(work, mutex) }
                if taken == queued { break }
                let job = queue[taken % capacity]
                taken += 1
                // after a failure the rest of that exchange is skipped (the step throws)
                let skip: Bool
                switch job {
                case .reduce: skip = reduceError != nil
                case .gather: skip = gatherError != nil
                }
                pthread_mutex_unlock(mutex)
                var error: Error?
                let t0 = DispatchTime.now().uptimeNanoseconds
                if !skip {
                    do { try run(job) } catch let e { error = e }
                }
                let t1 = DispatchTime.now().uptimeNanoseconds
                pthread_mutex_lock(mutex)
                switch job {
                case .reduce(let k):
                    started[k] = t0
                    ended[k] = t1
                    if reduceError == nil, let error { reduceError = error }
                    reduced += 1
                case .gather:
                    if gatherError == nil, let error { gatherError = error }
                    gathered += 1
                }
                pthread_cond_broadcast(progress)
            }
            pthread_mutex_unlock(mutex)
        }

        private func run(_ job: Job) throws {
            switch job {
            case .reduce(let k):
                try wire.reduceScatter(channel, grads + bounds[k], countPerRank: bounds[k + 1] - bounds[k], stride: stride)
            case .gather(let k):
                try channel.allGather(params + bounds[k], countPerRank: bounds[k + 1] - bounds[k], stride: stride)
            }
        }
    }
}
