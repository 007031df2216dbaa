import XCTest
@testable import DDPLM
import Foundation

/// End-to-end training on tiny synthetic corpora, through `LanguageModelTraining.run` as the CLI calls it.
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

    var data: RunConfig.DataConfig {
        var d = RunConfig.DataConfig(train: dir + "/train.txt", valid: dir + "/valid.txt", test: dir + "/test.txt")
        d.batch = 4
        d.bptt = 10
        return d
    }

    /// A new run's config, built the way `ddplm train` builds it: corpora first, then the vocabulary's size.
    func config(cell: CellType = .lstm, dropout: Float = 0, steps: Int = 300, data d: RunConfig.DataConfig? = nil) throws -> (RunConfig, LanguageModelCorpora) {
        let corpora = try LanguageModelCorpora.build(d ?? data)
        var c = RunConfig(model: ModelConfig(vocabSize: corpora.vocab.count, embedding: 16, hidden: 16, layers: 1, cell: cell, dropout: dropout),
                          vocabHash: corpora.vocab.hash, data: d ?? data)
        c.training.lr = 1e-2
        c.training.evalEvery = 50
        c.training.chunkRows = 16
        c.stop.epochs = 100
        c.stop.maxSteps = steps
        c.logging.logEvery = 1
        c.logging.saveEvery = 0
        return (c, corpora)
    }

    func options(_ out: String, resume: Bool = false) -> TrainingLoop.Options {
        var o = TrainingLoop.Options(dir: RunDirectory(out))
        o.progress = { _ in }
        o.stopRequested = { false }
        o.resume = resume
        return o
    }

    func train(_ c: (RunConfig, LanguageModelCorpora), _ o: TrainingLoop.Options) throws -> TrainingLoop.Summary {
        try LanguageModelTraining.run(config: c.0, corpora: c.1, options: o, comm: SingleProcessCommunicator())
    }

    /// Continues the run in `out` from its files, as `ddplm train --resume` does.
    func resume(_ out: String, _ o: TrainingLoop.Options? = nil) throws -> TrainingLoop.Summary {
        let cfg = try RunConfig.load(out + "/config.json")
        let corpora = try LanguageModelCorpora.load(cfg.data, vocab: try Vocabulary.load(out + "/vocab.txt"))
        return try train((cfg, corpora), o ?? options(out, resume: true))
    }

    func records(_ out: String, _ type: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8)
        return text.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }.filter { $0["type"] as? String == type }
    }

    func testTinyCorpusTrainsEvalReproducesAndGenerateUsesVocabulary() throws {
        let out = dir + "/run"
        let summary = try train(try config(), options(out))
        let v = 22.0  // 20 words + <unk> + <pad>
        let train = try records(out, "train")
        XCTAssertEqual(train.count, 300)
        let last = train.suffix(20).map { $0["loss"] as! Double }.reduce(0, +) / 20
        XCTAssertLessThan(last, 0.6 * log(v), "loss did not fall clearly below ln(V)")
        XCTAssertNotNil(summary.testLoss)

        // eval on the saved checkpoint reproduces the best logged validation loss
        let best = try records(out, "valid").map { $0["loss"] as! Double }.min()!
        let (cfg, vocab, model, _) = try Checkpoint.open(out, batch: 4, maxT: 10)
        let ids = vocab.encode(try Corpus.load(cfg.data.valid, role: "validation"))
        let split = try BatchSplit(batch: 4, ranks: 1, rank: 0)
        let (l, _) = try Evaluator.meanLoss(model: model, data: try Batcher(ids: ids, batch: 4, bptt: 10), split: split, comm: SingleProcessCommunicator())
        XCTAssertEqual(l, best, accuracy: 1e-9)

        // generate emits only vocabulary words, deterministically for a seed
        let (_, vocab1, model1, _) = try Checkpoint.open(out, batch: 1, maxT: 1)
        let gen = Generator(model: model1, vocab: vocab1)
        let text = gen.generate(words: 30, prompt: ["w1", "w2"], temperature: 0.8, greedy: false, seed: 5)
        XCTAssertEqual(text.count, 30)
        XCTAssertTrue(text.allSatisfy { vocab1.words.contains($0) })
        XCTAssertEqual(text, gen.generate(words: 30, prompt: ["w1", "w2"], temperature: 0.8, greedy: false, seed: 5))
        XCTAssertEqual(gen.generate(words: 5, prompt: [], temperature: 1, greedy: true, seed: 1).count, 5)
    }

    /// Stops after 23 of 45 steps (as a signal would), resumes, and must match an uninterrupted run bit
    /// for bit: per-step losses and final weights, Adam moments and carries. Dropout on, GRU, and a
    /// 600-token corpus (4 columns of 150 rows = 15 windows of bptt 10), so the run crosses two epoch ends.
    func testResumeIsBitIdentical() throws {
        try AtomicFile.write((0..<600).map { "w\(($0 * 7) % 13)" }.joined(separator: " "), to: dir + "/train.txt")
        var cfg = try config(cell: .gru, dropout: 0.2, steps: 45)
        cfg.0.training.evalEvery = 10
        let a = dir + "/a", b = dir + "/b"
        _ = try train(cfg, options(a))

        var calls = 0
        var o = options(b)
        o.stopRequested = { calls += 1; return calls >= 23 }
        let first = try train(cfg, o)
        XCTAssertEqual(first.stop, .signal)
        XCTAssertEqual(first.state.step, 23)
        let resumed = try resume(b)
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
        var cfg = try config(steps: 30)
        cfg.0.logging.saveEvery = 5
        cfg.0.training.evalEvery = 5
        let out = dir + "/nan"
        var o = options(out)
        o.injectNaNAtStep = 12
        XCTAssertThrowsError(try train(cfg, o)) { e in
            XCTAssertTrue("\(e)".contains("non-finite gradient norm (nan) at step 13"), "\(e)")
        }
        XCTAssertEqual(Checkpoint.savedState(out + "/latest.safetensors")?.step, 10)
        _ = try Checkpoint.open(out, batch: 1, maxT: 1)  // the best model is intact

        cfg.0.logging.skipNonFinite = true
        var s = options(dir + "/skip")
        s.injectNaNAtStep = 12
        let summary = try train(cfg, s)
        XCTAssertEqual(summary.state.step, 30)
    }

    func testBadInputsAreClearErrorsAndNothingIsOverwritten() throws {
        func fails(_ text: String, line: UInt = #line, _ body: () throws -> Void) {
            XCTAssertThrowsError(try body(), line: line) { e in
                XCTAssertTrue(e is DDPLMError, "\(e)", line: line)
                XCTAssertTrue("\(e)".contains(text), "\(e)", line: line)
            }
        }
        var d = data
        d.train = dir + "/missing.txt"
        fails("training corpus '\(dir)/missing.txt' does not exist") { _ = try config(data: d) }
        d = data
        d.valid = dir
        fails("validation corpus '\(dir)' is a directory") { _ = try config(data: d) }
        d = data
        d.bptt = 500
        fails("validation corpus '\(dir)/valid.txt' is too short") { _ = try train(try config(data: d), options(dir + "/x")) }
        var c = try config(steps: 3)
        c.0.data.batch = 0
        fails("--batch must be positive (got 0)") { _ = try train(c, options(dir + "/x")) }
        c = try config(steps: 3)
        c.0.model.hidden = -1
        fails("--hidden must be positive (got -1)") { _ = try train(c, options(dir + "/x")) }
        c = try config(steps: 3)
        c.0.data.batch = 3
        let odd = c, opts = options(dir + "/x")
        fails("--batch 3 is the global batch and must be divisible by the number of ranks (2)") {
            _ = try InProcessCommunicator.run(ranks: 2) { comm in
                try LanguageModelTraining.run(config: odd.0, corpora: odd.1, options: opts, comm: comm)
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x"), "a failing run created its output directory")

        // an existing run is not overwritten
        let out = dir + "/keep"
        _ = try train(try config(steps: 3), options(out))
        let before = try Data(contentsOf: URL(fileURLWithPath: out + "/model.safetensors"))
        fails("already holds a run") { _ = try train(try config(steps: 3), options(out)) }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/model.safetensors")), before)
    }

    func testCheckpointShapeMismatchIsAnError() throws {
        let out = dir + "/shape"
        _ = try train(try config(steps: 2), options(out))
        var cfg = try RunConfig.load(out + "/config.json")
        cfg.model.hidden = 8
        try AtomicFile.write(try cfg.encoded(), to: out + "/config.json")
        XCTAssertThrowsError(try Checkpoint.open(out, batch: 1, maxT: 1)) { e in
            XCTAssertEqual("\(e)", "'\(out)/model.safetensors': tensor 'rnn.weight_ih_l0' has shape [64, 16] but the config needs [32, 16]")
        }
        try FileManager.default.removeItem(atPath: out + "/vocab.txt")
        XCTAssertThrowsError(try Checkpoint.open(out, batch: 1, maxT: 1)) { e in XCTAssertTrue("\(e)".contains("missing vocab.txt")) }
    }

    /// The same state gives the same bytes: config.json and model.safetensors of two identical runs are
    /// byte-identical, and latest.safetensors differs only in the wall-clock `elapsed` of its metadata.
    func testFilesAreByteReproducible() throws {
        let c = try config(steps: 12)
        _ = try train(c, options(dir + "/r1"))
        _ = try train(c, options(dir + "/r2"))
        for f in ["config.json", "vocab.txt", "model.safetensors"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/r1/\(f)")),
                           try Data(contentsOf: URL(fileURLWithPath: "\(dir)/r2/\(f)")), f)
        }
        let a = try SafeTensors.read(path: dir + "/r1/latest.safetensors"), b = try SafeTensors.read(path: dir + "/r2/latest.safetensors")
        XCTAssertEqual(a.metadata["ddplm.checksum"], b.metadata["ddplm.checksum"], "the tensors differ")
        var sa = try Checkpoint.trainerState(in: a, name: "a"), sb = try Checkpoint.trainerState(in: b, name: "b")
        sa.elapsed = 0
        sb.elapsed = 0
        XCTAssertEqual(try sa.encoded(), try sb.encoded())
        // keys in sorted order, at every level
        let js = a.metadata["ddplm.trainer"]!
        let keys = try JSONSerialization.jsonObject(with: Data(js.utf8)) as! [String: Any]
        let order = keys.keys.sorted().map { js.range(of: "\"\($0)\":")!.lowerBound }
        XCTAssertEqual(order, order.sorted(), js)
    }

    /// A config.json written before a logging setting existed still loads; the setting keeps its default.
    func testLoggingSectionWithoutNewerKeysKeepsDefaults() throws {
        let old = #"{"logEvery": 5, "saveEvery": 0, "skipNonFinite": true}"#
        let l = try JSONDecoder().decode(RunConfig.LoggingConfig.self, from: Data(old.utf8))
        XCTAssertEqual(l.logEvery, 5)
        XCTAssertEqual(l.saveEvery, 0)
        XCTAssertTrue(l.skipNonFinite)
        XCTAssertFalse(l.tensorboard)
        XCTAssertThrowsError(try JSONDecoder().decode(RunConfig.LoggingConfig.self, from: Data(#"{"logEvery": "x"}"#.utf8)))
    }
}
