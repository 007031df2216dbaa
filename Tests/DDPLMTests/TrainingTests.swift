import XCTest
@testable import DDPLM
import Foundation

/// End-to-end training on tiny synthetic corpora, through the same Trainer the CLI uses.
final class TrainingTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "ddplm-train-\(getpid())-\(UUID().uuidString.prefix(8))"
        try AtomicFile.makeDirectory(dir)
        // A learnable stream: words follow a fixed cycle, with a random word every 7th token.
        var rng = SplitMix64(seed: 99)
        let words = (0..<20).map { "w\($0)" }
        func corpus(_ n: Int) -> String {
            var out: [String] = []
            var i = 0
            for k in 0..<n {
                i = (i + 1 + (i % 3)) % words.count
                out.append(k % 7 == 6 ? words[Int(rng.next() % 20)] : words[i])
            }
            return out.joined(separator: " ")
        }
        try AtomicFile.write(corpus(4000), to: dir + "/train.txt")
        try AtomicFile.write(corpus(800), to: dir + "/valid.txt")
        try AtomicFile.write(corpus(800), to: dir + "/test.txt")
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func config(cell: CellType = .lstm, dropout: Float = 0, steps: Int = 300) -> RunConfig {
        var c = RunConfig(model: ModelConfig(vocabSize: 0, embedding: 16, hidden: 16, layers: 1, cell: cell, dropout: dropout),
                          train: dir + "/train.txt", valid: dir + "/valid.txt", test: dir + "/test.txt",
                          batch: 4, bptt: 10, lr: 1e-2, epochs: 100, maxSteps: steps, evalEvery: 50, logEvery: 1, saveEvery: 0)
        c.chunkRows = 16
        return c
    }

    func options(_ out: String) -> TrainOptions {
        var o = TrainOptions(out: out)
        o.progress = { _ in }
        o.stopRequested = { false }
        return o
    }

    func records(_ out: String, _ type: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8)
        return text.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }.filter { $0["type"] as? String == type }
    }

    func testTinyCorpusTrainsEvalReproducesAndGenerateUsesVocabulary() throws {
        let out = dir + "/run"
        let summary = try Trainer(config: config(), options: options(out), comm: SingleProcessCommunicator()).run()
        let v = 22.0  // 20 words + <unk> + <pad>
        let train = try records(out, "train")
        XCTAssertEqual(train.count, 300)
        let last = train.suffix(20).map { $0["loss"] as! Double }.reduce(0, +) / 20
        XCTAssertLessThan(last, 0.6 * log(v), "loss did not fall clearly below ln(V)")
        XCTAssertNotNil(summary.testLoss)

        // eval on the saved checkpoint reproduces the best logged validation loss
        let best = try records(out, "valid").map { $0["loss"] as! Double }.min()!
        let (cfg, vocab, model) = try Checkpoint.open(out, batch: 4, maxT: 10)
        let ids = vocab.encode(try Corpus.load(cfg.valid, role: "validation"))
        let (l, n) = Evaluator.run(model: model, data: try Batcher(ids: ids, batch: 4, bptt: 10), firstColumn: 0)
        XCTAssertEqual(l / Double(n), best, accuracy: 1e-9)

        // generate emits only vocabulary words, deterministically for a seed
        let (_, vocab1, model1) = try Checkpoint.open(out, batch: 1, maxT: 1)
        let gen = Generator(model: model1, vocab: vocab1)
        let text = gen.generate(words: 30, prompt: ["w1", "w2"], temperature: 0.8, greedy: false, seed: 5)
        XCTAssertEqual(text.count, 30)
        XCTAssertTrue(text.allSatisfy { vocab1.words.contains($0) })
        XCTAssertEqual(text, gen.generate(words: 30, prompt: ["w1", "w2"], temperature: 0.8, greedy: false, seed: 5))
        XCTAssertEqual(gen.generate(words: 5, prompt: [], temperature: 1, greedy: true, seed: 1).count, 5)
    }

    /// Stops after 23 of 45 steps (as a signal would), resumes, and must match an uninterrupted run bit
    /// for bit: per-step losses and final weights, Adam moments and carries. Dropout on, GRU, epoch ends
    /// crossed (4000 tokens / 4 columns / bptt 10 = 100 windows… use a short corpus to cross them).
    func testResumeIsBitIdentical() throws {
        try AtomicFile.write((0..<600).map { "w\(($0 * 7) % 13)" }.joined(separator: " "), to: dir + "/train.txt")
        var cfg = config(cell: .gru, dropout: 0.2, steps: 45)
        cfg.evalEvery = 10
        let a = dir + "/a", b = dir + "/b"
        _ = try Trainer(config: cfg, options: options(a), comm: SingleProcessCommunicator()).run()

        var calls = 0
        var o = options(b)
        o.stopRequested = { calls += 1; return calls >= 23 }
        let first = try Trainer(config: cfg, options: o, comm: SingleProcessCommunicator()).run()
        XCTAssertEqual(first.stop, .signal)
        XCTAssertEqual(first.state.step, 23)
        var r = options(b)
        r.resume = true
        let resumed = try Trainer(config: try RunConfig.load(b + "/config.json"), options: r, comm: SingleProcessCommunicator()).run()
        XCTAssertEqual(resumed.state.step, 45)
        XCTAssertGreaterThan(resumed.state.epoch, 0)

        let la = try records(a, "train").map { $0["loss"] as! Double }
        let lb = try records(b, "train").map { $0["loss"] as! Double }
        XCTAssertEqual(la, lb)
        let fa = try SafeTensors.read(path: a + "/latest.safetensors"), fb = try SafeTensors.read(path: b + "/latest.safetensors")
        XCTAssertEqual(fa.entries, fb.entries)
        for e in fa.entries {
            let n = e.shape.reduce(1, *)
            var x = [Float](repeating: 0, count: n), y = [Float](repeating: 1, count: n)
            try fa.copyFloats(e.name, shape: e.shape, into: &x, file: "a")
            try fb.copyFloats(e.name, shape: e.shape, into: &y, file: "b")
            XCTAssertEqual(x, y, e.name)
        }
        let va = try records(a, "valid").filter { ($0["step"] as! Int) % 10 == 0 }.map { $0["loss"] as! Double }
        let vb = try records(b, "valid").filter { ($0["step"] as! Int) % 10 == 0 }.map { $0["loss"] as! Double }
        XCTAssertEqual(va, vb)
    }

    func testNonFiniteLossStopsAndKeepsTheLastCheckpoint() throws {
        var cfg = config(steps: 30)
        cfg.saveEvery = 5
        cfg.evalEvery = 5
        let out = dir + "/nan"
        var o = options(out)
        o.injectNaNAtStep = 12
        XCTAssertThrowsError(try Trainer(config: cfg, options: o, comm: SingleProcessCommunicator()).run()) { e in
            XCTAssertTrue("\(e)".contains("non-finite gradient norm (nan) at step 13"), "\(e)")
        }
        let latest = try SafeTensors.read(path: out + "/latest.safetensors")
        let state = try JSONDecoder().decode(TrainerState.self, from: Data(latest.metadata["ddplm.trainer"]!.utf8))
        XCTAssertEqual(state.step, 10)
        _ = try Checkpoint.open(out, batch: 1, maxT: 1)  // the best model is intact

        cfg.skipNonFinite = true
        var s = options(dir + "/skip")
        s.injectNaNAtStep = 12
        let summary = try Trainer(config: cfg, options: s, comm: SingleProcessCommunicator()).run()
        XCTAssertEqual(summary.state.step, 30)
    }

    func testBadInputsAreClearErrorsAndNothingIsOverwritten() throws {
        func fails(_ c: RunConfig, _ out: String, _ text: String, line: UInt = #line) {
            XCTAssertThrowsError(try Trainer(config: c, options: options(out), comm: SingleProcessCommunicator()).run(), line: line) { e in
                XCTAssertTrue(e is DDPLMError, line: line)
                XCTAssertTrue("\(e)".contains(text), "\(e)", line: line)
            }
        }
        var c = config(steps: 3)
        c.train = dir + "/missing.txt"
        fails(c, dir + "/x", "does not exist")
        c = config(steps: 3)
        c.valid = dir
        fails(c, dir + "/x", "is a directory")
        c = config(steps: 3)
        c.bptt = 500
        fails(c, dir + "/x", "too short")
        c = config(steps: 3)
        c.batch = 0
        fails(c, dir + "/x", "--batch must be positive")
        c = config(steps: 3)
        c.model.hidden = -1
        fails(c, dir + "/x", "--hidden must be positive")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x"), "a failing run created its output directory")

        // an existing run is not overwritten
        let out = dir + "/keep"
        _ = try Trainer(config: config(steps: 3), options: options(out), comm: SingleProcessCommunicator()).run()
        let before = try Data(contentsOf: URL(fileURLWithPath: out + "/model.safetensors"))
        fails(config(steps: 3), out, "already holds a run")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/model.safetensors")), before)
    }

    func testCheckpointShapeMismatchIsAnError() throws {
        let out = dir + "/shape"
        _ = try Trainer(config: config(steps: 2), options: options(out), comm: SingleProcessCommunicator()).run()
        var cfg = try RunConfig.load(out + "/config.json")
        cfg.model.hidden = 8
        try AtomicFile.write(try cfg.encoded(), to: out + "/config.json")
        XCTAssertThrowsError(try Checkpoint.open(out, batch: 1, maxT: 1)) { e in
            XCTAssertTrue("\(e)".contains("has shape [20, 16]") || "\(e)".contains("has shape"), "\(e)")
        }
        try FileManager.default.removeItem(atPath: out + "/vocab.txt")
        XCTAssertThrowsError(try Checkpoint.open(out, batch: 1, maxT: 1)) { e in XCTAssertTrue("\(e)".contains("missing vocab.txt")) }
    }
}
