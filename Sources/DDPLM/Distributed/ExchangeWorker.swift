import Foundation

/// The exchange thread and everything it touches. The thread holds the worker, not the exchange, so
/// the exchange's deinit can stop it. Jobs run in the order queued (a FIFO): a step's reduce-scatter
/// segments always follow the previous step's all-gather. `.marks` and `.rows` are the sparse exchange
/// of the replicated embedding table (`SparseRowExchange`: its marks, then its rows), part of the step's
/// reduce.
final class ExchangeWorker: @unchecked Sendable {
    enum Job { case reduce(Int), gather(Int), marks, rows }

    let grads: UnsafeMutablePointer<Float>
    let params: UnsafeMutablePointer<Float>
    /// The store's buffers, held so that a job still running after the exchange is gone writes into
    /// live memory.
    private let buffers: [FloatBuffer]
    let plan: [OverlappedExchange.Segment]
    let rows: SparseRowExchange?
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
    /// The `.rows` job was queued this step and has not ended.
    private var rowsPending = false
    private var stopping = false
    private var reduceError: Error?
    private var gatherError: Error?

    init(grads: FloatBuffer, params: FloatBuffer, plan: [OverlappedExchange.Segment], rows: SparseRowExchange?,
         wire: GradientWire, channel: ExchangeChannel) {
        self.grads = grads.ptr
        self.params = params.ptr
        buffers = [grads, params]
        self.plan = plan
        self.rows = rows
        self.wire = wire
        self.channel = channel
        let s = plan.count
        capacity = 2 * s + 2
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

    private var segments: Int { plan.count }

    /// A new step's reduce-scatter (the previous one is complete).
    func resetReduce() {
        pthread_mutex_lock(mutex)
        reduced = 0; reduceError = nil
        rowsPending = false
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
        if case .rows = job { rowsPending = true }
        pthread_cond_signal(work)
        pthread_mutex_unlock(mutex)
    }

    func awaitReduced() throws {
        pthread_mutex_lock(mutex)
        while reduced < segments || rowsPending { pthread_cond_wait(progress, mutex) }
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
            case .reduce, .marks, .rows: skip = reduceError != nil
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
            case .marks:
                if reduceError == nil, let error { reduceError = error }
            case .rows:
                if reduceError == nil, let error { reduceError = error }
                rowsPending = false
            }
            pthread_cond_broadcast(progress)
        }
        pthread_mutex_unlock(mutex)
    }

    private func run(_ job: Job) throws {
        switch job {
        case .reduce(let k):
            try wire.reduceScatter(channel, grads + plan[k].start, countPerRank: plan[k].length, stride: plan[k].stride)
        case .gather(let k):
            try channel.allGather(params + plan[k].start, countPerRank: plan[k].length, stride: plan[k].stride)
        case .marks:
            try rows?.exchangeMarks(channel: channel)
        case .rows:
            try rows?.sum(grads, channel: channel)
        }
    }
}
