import Foundation
import Glibc

/// Benchmarks only (`ddplm bench --record-compute` / `--replay-compute`): what a training step's compute
/// told the exchange, and after how much computing: each time it awaited a range of weights, marked the
/// embedding's rows or handed a range of gradients over as final (`ExchangeSchedule`), and the compute
/// after the last of them.
///
/// Recorded from one rank's real step at the per-rank batch (`ComputeRecorder`), it is replayed on N
/// ranks with sleeps of the same lengths in place of the compute (`replay`): the exchange then runs on
/// cores the compute leaves free, as on a cluster with one rank per node. Emulated hosts oversubscribed
/// on a few cores (`launch/bench-scaleout --replay`) then time the network instead of their own
/// contention for the cores.
public struct ComputeTrace: Codable, Sendable {
    public enum Kind: String, Codable, Sendable {
        case awaitWeights = "await"
        case gradientsFinal = "final"
        /// The embedding's rows marked (`ExchangeSchedule.rowsMarked`; the range is empty).
        case rowsMarked = "marked"
    }

    public struct Event: Codable, Sendable {
        /// Seconds of compute since the previous event (or the step's start).
        public var gap: Double
        public var kind: Kind
        /// The flat store range.
        public var lower: Int
        public var upper: Int
    }

    /// The ranks the trace was recorded for: the decoder's rows were finished in their segments' order.
    public var ranks: Int
    /// The model's parameter count: a trace replays only on the model it was recorded on.
    public var parameters: Int
    public var events: [Event] = []
    /// Seconds of compute after the last event.
    public var tail = 0.0
    /// The step's loss (returned by the replay, so that the step is finite).
    public var loss = 0.0

    /// The step's compute in seconds.
    public var seconds: Double { events.reduce(tail) { $0 + $1.gap } }

    public static func read(_ path: String) throws -> ComputeTrace {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DDPLMError("cannot read the compute trace '\(path)' (ddplm bench --record-compute writes one)")
        }
        do { return try JSONDecoder().decode(ComputeTrace.self, from: data) } catch {
            throw DDPLMError("'\(path)' is not a compute trace written by ddplm bench --record-compute")
        }
    }

    public func write(_ path: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        try AtomicFile.write([UInt8](try enc.encode(self)), to: path)
    }

    /// Sleeps through the recorded compute, awaiting and handing over what it did, when it did: each
    /// gap is slept from the previous event's intended time (so that sleeps' overshoots do not add up),
    /// or from when a wait for weights returned, if that was later.
    func replay(_ ready: ExchangeSchedule?) {
        var cursor = ComputeTrace.now()
        for e in events {
            cursor += UInt64(e.gap * 1e9)
            ComputeTrace.sleep(until: cursor)
            switch e.kind {
            case .awaitWeights:
                ready?.awaitParameters(e.lower..<e.upper)
                cursor = max(cursor, ComputeTrace.now())
            case .gradientsFinal:
                ready?.gradientsFinal(e.lower..<e.upper)
            case .rowsMarked:
                ready?.rowsMarked()
            }
        }
        ComputeTrace.sleep(until: cursor + UInt64(tail * 1e9))
    }

    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    static func sleep(until deadline: UInt64) {
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
    }
}

/// Records a real step as a `ComputeTrace`: passed to the model as its `ExchangeSchedule` on one rank,
/// it returns at once from every wait, and finishes the decoder's rows in the order N ranks' exchange
/// would ask for (`OverlappedExchange.rowOrder` of their segment plan).
final class ComputeRecorder: ExchangeSchedule {
    private(set) var trace: ComputeTrace
    private let plan: [OverlappedExchange.Segment]
    private var last: UInt64 = 0

    /// `plan`: a store of the same model for the ranks the trace is for.
    init(plan: ParameterStore) {
        trace = ComputeTrace(ranks: plan.ranks, parameters: plan.count)
        self.plan = OverlappedExchange.plan(shard: plan.shard, ranks: plan.ranks, cuts: plan.layout.stored.map { $0.offset })
    }

    func begin() {
        trace.events.removeAll(keepingCapacity: true)
        last = ComputeTrace.now()
    }

    private func gap() -> Double {
        let t = ComputeTrace.now()
        defer { last = t }
        return Double(t - last) / 1e9
    }

    func awaitParameters(_ range: Range<Int>) {
        trace.events.append(.init(gap: gap(), kind: .awaitWeights, lower: range.lowerBound, upper: range.upperBound))
    }

    func gradientsFinal(_ range: Range<Int>) {
        trace.events.append(.init(gap: gap(), kind: .gradientsFinal, lower: range.lowerBound, upper: range.upperBound))
    }

    func rowsMarked() {
        trace.events.append(.init(gap: gap(), kind: .rowsMarked, lower: 0, upper: 0))
    }

    func rowOrder(offset: Int, rows: Int, width: Int) -> [Range<Int>] {
        OverlappedExchange.rowOrder(offset: offset, rows: rows, width: width, ranks: trace.ranks, plan: plan)
    }

    func end(loss: Double) {
        trace.tail = gap()
        trace.loss = loss
    }
}
