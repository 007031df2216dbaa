import XCTest
@testable import DDPLM
import Foundation

/// Classification on N in-process ranks trains what one process trains (same losses, accuracies and
/// weights to float tolerance: the sums meet in another order), including uneven slices (a batch of 10
/// over 4 ranks) and a last batch smaller than the rest; and a resumed run continues bit-identically.
final class ClassifierDistributedTests: XCTestCase {
    /// A small corpus whose label needs word order ("not good" vs "good … not bad").
    static func corpus(_ dir: String, _ name: String, count: Int, seed: UInt64) throws -> String {
        var rng = SplitMix64(seed: seed)
        let fill = ["the", "film", "was", "and", "a", "plot", "it", "really"], pos = ["good", "great", "fun"], neg = ["bad", "dull", "awful"]
        var lines: [String] = []
        for _ in 0..<count {
            var words: [String] = (0..<Int(rng.next() % 6)).map { _ in fill[Int(rng.next() % 8)] }
            let positive = rng.next() % 2 == 0, negated = rng.next() % 2 == 0
            if negated { words.append("not") }
            words.append((positive != negated ? pos : neg)[Int(rng.next() % 3)])
            words += (0..<Int(rng.next() % 4)).map { _ in fill[Int(rng.next() % 8)] }
            lines.append("\(positive ? "pos" : "neg")\t" + words.joined(separator: " "))
        }
        let path = "\(dir)/\(name).tsv"
        try AtomicFile.write(lines.joined(separator: "\n") + "\n", to: path)
        return path
    }

    func smallRun(_ kind: ClassifierKind) throws -> (dir: String, config: ClassifierRunConfig, corpora: ClassificationCorpora) {
        let dir = NSTemporaryDirectory() + "ddplm-cls-\(getpid())-\(UUID().uuidString.prefix(8))"
        try AtomicFile.makeDirectory(dir)
        var data = ClassifierRunConfig.DataConfig(train: try Self.corpus(dir, "train", count: 295, seed: 1))
        data.test = try Self.corpus(dir, "test", count: 60, seed: 2)
        data.batch = 10
        let corpora = try ClassificationCorpora.load(data)
        var m = ClassifierConfig(kind: kind, vocabSize: corpora.vocab.count, classes: corpora.labels.count)
        m.embedding = 6
        m.hidden = 5
        m.filters = 4
        m.filterSizes = [2, 3]
        m.dropout = kind == .wordavg ? 0 : 0.2
        var cfg = ClassifierRunConfig(model: m, labels: corpora.labels, vocabHash: corpora.vocab.hash, data: data)
        cfg.training.lr = 0.01
        cfg.training.evalEvery = 8
        cfg.stop.epochs = 2
        cfg.logging.logEvery = 1
        cfg.logging.saveEvery = 10
        return (dir, cfg, corpora)
    }

    func records(_ run: String, _ type: String, _ key: String) throws -> [Double] {
        try String(contentsOfFile: "\(run)/metrics.jsonl", encoding: .utf8).split(separator: "\n").compactMap {
            let o = try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
            return o["type"] as? String == type ? o[key] as? Double : nil
        }
    }

    func weights(_ path: String) throws -> [String: [Float]] {
        let f = try SafeTensors.read(path: path)
        var out: [String: [Float]] = [:]
        for e in f.entries {
            var x = [Float](repeating: 0, count: e.shape.reduce(1, *))
            try f.copyFloats(e.name, shape: e.shape, into: &x, file: path)
            out[e.name] = x
        }
        return out
    }

    func testOneTwoAndFourRanksTrainTheSame() throws {
        for kind in ClassifierKind.allCases {
            let (dir, config, corpora) = try smallRun(kind)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            XCTAssertNotEqual(corpora.train.count % config.data.batch, 0, "the last batch is a partial one")
            let one = try ClassifierTraining.run(config: config, corpora: corpora, options: DistributedTests.options(dir + "/1"),
                                                 comm: SingleProcessCommunicator())
            XCTAssertEqual(one.state.step, 2 * ((corpora.train.count + 9) / 10))
            for n in [2, 4] {
                let out = "\(dir)/\(n)"
                let r = try InProcessCommunicator.run(ranks: n) { comm in
                    try ClassifierTraining.run(config: config, corpora: corpora, options: DistributedTests.options(out), comm: comm)
                }
                XCTAssertEqual(r[0].testAccuracy!, one.testAccuracy!, accuracy: 1e-9, "\(kind) \(n) ranks")
                XCTAssertEqual(r[0].testLoss!, one.testLoss!, accuracy: 1e-5, "\(kind) \(n) ranks")
                for (type, key) in [("train", "loss"), ("valid", "loss"), ("valid", "accuracy"), ("test", "accuracy")] {
                    let a = try records(dir + "/1", type, key), b = try records(out, type, key)
                    XCTAssertEqual(a.count, b.count, "\(kind) \(type) \(key)")
                    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(x)), "\(kind) \(n) ranks \(type) \(key)") }
                }
                let wa = try weights(dir + "/1/latest.safetensors"), wb = try weights(out + "/latest.safetensors")
                XCTAssertEqual(Set(wa.keys), Set(wb.keys))
                for (name, x) in wa {
                    let worst = zip(x, wb[name]!).map { abs($0 - $1) }.max() ?? 0
                    XCTAssertLessThan(worst, 1e-4, "\(kind) \(n) ranks \(name)")
                }
            }
        }
    }

    /// Stopped at step 13 and resumed (on 2 ranks, from a 1-rank checkpoint too), a run ends where the
    /// uninterrupted one does; on the same rank count bit-identically.
    func testResumeContinuesTheRun() throws {
        let (dir, config, corpora) = try smallRun(.cnn)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try ClassifierTraining.run(config: config, corpora: corpora, options: DistributedTests.options(dir + "/ref"),
                                       comm: SingleProcessCommunicator())
        var first = config
        first.stop.maxSteps = 13
        let half = first
        _ = try ClassifierTraining.run(config: half, corpora: corpora, options: DistributedTests.options(dir + "/a"), comm: SingleProcessCommunicator())
        XCTAssertThrowsError(try ClassifierTraining.run(config: config, corpora: corpora, options: DistributedTests.options(dir + "/a"),
                                                        comm: SingleProcessCommunicator()))  // a new run would overwrite it
        var changed = config
        changed.training.lr = 0.02
        XCTAssertThrowsError(try ClassifierTraining.run(config: changed, corpora: corpora, options: DistributedTests.options(dir + "/a", resume: true),
                                                        comm: SingleProcessCommunicator()))
        try FileManager.default.copyItem(atPath: dir + "/a", toPath: dir + "/b")
        _ = try ClassifierTraining.run(config: config, corpora: corpora, options: DistributedTests.options(dir + "/a", resume: true),
                                       comm: SingleProcessCommunicator())
        XCTAssertEqual(try weights(dir + "/ref/latest.safetensors"), try weights(dir + "/a/latest.safetensors"))
        XCTAssertEqual(try records(dir + "/ref", "train", "loss"), try records(dir + "/a", "train", "loss"))
        _ = try InProcessCommunicator.run(ranks: 2) { comm in
            try ClassifierTraining.run(config: config, corpora: corpora, options: DistributedTests.options(dir + "/b", resume: true), comm: comm)
        }
        let ref = try records(dir + "/ref", "train", "loss"), two = try records(dir + "/b", "train", "loss")
        XCTAssertEqual(ref.count, two.count)
        for (x, y) in zip(ref, two) { XCTAssertEqual(x, y, accuracy: 1e-5) }
    }
}
