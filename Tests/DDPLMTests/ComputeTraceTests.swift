import XCTest
@testable import DDPLM

/// `ddplm bench --record-compute` / `--replay-compute`: a recorded step hands every gradient float over
/// exactly once (so a replay leaves nothing to the end that the real step did not), in the decoder row
/// order of the ranks it is for; the trace survives its file; and a replay on 2 in-process ranks with the
/// overlapped exchange runs the exchange and sleeps at least as long as the recorded compute; a trace of
/// another model is refused.
final class ComputeTraceTests: XCTestCase {
    private let model = ModelConfig(vocabSize: 300, embedding: 16, hidden: 12, layers: 2, cell: .lstm, dropout: 0)

    private func config(steps: Int) -> Benchmark.Config {
        Benchmark.Config(model: model, batch: 4, bptt: 5, chunkRows: 8, steps: steps, warmup: 1, threads: .one)
    }

    func testRecordedStepHandsOverEveryGradientOnce() throws {
        var c = config(steps: 3)
        c.recordFor = 2
        let timing = try Benchmark.timeSteps(c, comm: SingleProcessCommunicator())
        let trace = try XCTUnwrap(timing.trace)
        XCTAssertEqual(trace.ranks, 2)
        XCTAssertEqual(trace.parameters, LanguageModel.layout(model).count)
        var handed = [Int](repeating: 0, count: trace.parameters)
        for e in trace.events where e.kind == .gradientsFinal { for i in e.lower..<e.upper { handed[i] += 1 } }
        XCTAssertEqual(Set(handed), [1], "every gradient float handed over exactly once")
        XCTAssertTrue(trace.events.contains { $0.kind == .awaitWeights }, "the forward awaits its weights")
        XCTAssertGreaterThan(trace.seconds, 0)
        XCTAssertTrue(trace.loss.isFinite)

        let path = NSTemporaryDirectory() + "trace-\(ProcessInfo.processInfo.processIdentifier).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try trace.write(path)
        let back = try ComputeTrace.read(path)
        XCTAssertEqual(back.events.count, trace.events.count)
        XCTAssertEqual(back.seconds, trace.seconds, accuracy: 1e-12)
        XCTAssertThrowsError(try ComputeTrace.read(path + ".none")) { XCTAssertTrue("\($0)".contains("--record-compute")) }
    }

    func testReplayOnTwoRanks() throws {
        var record = config(steps: 1)
        record.batch = 2  // the per-rank batch of the replay
        record.recordFor = 2
        let trace = try XCTUnwrap(try Benchmark.timeSteps(record, comm: SingleProcessCommunicator()).trace)
        let replay = { var r = config(steps: 3); r.replay = trace; return r }()
        let results = try InProcessCommunicator.run(ranks: 2) { comm -> [Double] in
            let t = try Benchmark.timeSteps(replay, comm: comm)
            return [t.computeMedianSeconds, t.phases[6] + t.phases[1]]
        }
        for r in results {
            XCTAssertGreaterThanOrEqual(r[0], trace.seconds * 0.99, "a replayed compute lasts at least the recorded one")
            XCTAssertGreaterThan(r[1], 0, "the exchange ran")
        }
        let other = { var o = replay; o.model.hidden = 13; return o }()
        XCTAssertThrowsError(try InProcessCommunicator.run(ranks: 2) { comm in _ = try Benchmark.timeSteps(other, comm: comm) }) {
            XCTAssertTrue("\($0)".contains("recorded on a model of"))
        }
    }
}
