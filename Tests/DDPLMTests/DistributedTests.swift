import XCTest
@testable import DDPLM
import Foundation

/// The data-parallel step and loop on N in-process ranks (threads), without MPI: the ZeRO-1 step
/// (reduce-scatter, sharded Adam, all-gather) and the whole training loop must equal one rank.
final class DistributedTests: XCTestCase {
    func testCollectivesMatchTheirDefinitions() throws {
        let n = 3, per = 5
        let results = try InProcessCommunicator.run(ranks: n) { comm -> [[Float]] in
            let r = Float(comm.rank)
            var sum = (0..<7).map { Float($0) + r * 10 }
            try sum.withUnsafeMutableBufferPointer { try comm.allReduceSum($0.baseAddress!, count: 7) }
            var d: [Double] = [Double(comm.rank), 1]
            try d.withUnsafeMutableBufferPointer { try comm.allReduceSum($0.baseAddress!, count: 2) }
            var rs = (0..<(n * per)).map { Float($0) * (r + 1) }
            try rs.withUnsafeMutableBufferPointer { try comm.reduceScatterSum($0.baseAddress!, countPerRank: per) }
            var ag = (0..<(n * per)).map { $0 / per == comm.rank ? Float($0) + 100 * r : -1 }
            try ag.withUnsafeMutableBufferPointer { try comm.allGather($0.baseAddress!, countPerRank: per) }
            let b = try comm.broadcast([Double(comm.rank) + 7], root: 2)
            return [sum, d.map(Float.init), Array(rs[(comm.rank * per)..<((comm.rank + 1) * per)]), ag, b.map(Float.init)]
        }
        for (rank, res) in results.enumerated() {
            XCTAssertEqual(res[0], (0..<7).map { Float($0) * 3 + 30 })
            XCTAssertEqual(res[1], [3, 3])
            XCTAssertEqual(res[2], (0..<per).map { Float(rank * per + $0) * 6 })  // × (1 + 2 + 3)
            XCTAssertEqual(res[3], (0..<(n * per)).map { Float($0) + 100 * Float($0 / per) })
            XCTAssertEqual(res[4], [9])
        }
    }

    /// Three steps of N ranks (each on its columns of a global batch of 12) against one rank on all 12:
    /// same losses, gradient norms and weights, and every rank bit-identical to every other.
    /// Untied, and tied (with the split, the embedding table is split too: `VocabParallelEmbedding`).
    func testNRankTrainingStepEqualsOneRank() throws {
        try nRankTrainingStepEqualsOneRank(ModelConfig(vocabSize: 13, embedding: 5, hidden: 6, layers: 2, cell: .lstm, dropout: 0.3))
        try nRankTrainingStepEqualsOneRank(ModelConfig(vocabSize: 13, embedding: 6, hidden: 6, layers: 2, cell: .lstm, dropout: 0.3, tieWeights: true))
    }

    /// `againstOneProcess` false: N ranks are compared with each other and node-shared with a copy each,
    /// not with one process (bf16 products, set by the caller; or weights large enough that the sums'
    /// orders differ by more than the tolerance).
    func nRankTrainingStepEqualsOneRank(_ cfg: ModelConfig, againstOneProcess: Bool = true) throws {
        let batch = 12, t = 5, steps = 3
        var rng = SplitMix64(seed: 21)
        let xs = (0..<(steps * t * batch)).map { _ in Int32(rng.next() % UInt64(min(13, cfg.vocabSize))) }
        let ys = (0..<(steps * t * batch)).map { _ in Int32(rng.next() % UInt64(min(13, cfg.vocabSize))) }

        /// Losses, norms and final weights of `ranks` ranks (per rank); with the decoder split by
        /// vocabulary rows, or exchanged; with one copy of the weights (`NodeSharedWeights`) or a copy each;
        /// with the standard optimizer piece (one round at these sizes) or `piece` floats (many rounds).
        @Sendable func train(_ comm: Communicator, vocabParallel: Bool = false, shared: Bool = false, piece: Int? = nil) throws -> (losses: [Double], norms: [Double], weights: [Float]) {
            let split = try BatchSplit(batch: batch, comm: comm)
            let store = LanguageModel.store(cfg, ranks: comm.size, rank: comm.rank, vocabParallel: vocabParallel, piece: piece)
            if let piece { XCTAssertGreaterThan(store.shard.rounds.count, 4, "piece \(piece)") }
            let model = LanguageModel(config: cfg, store: store, batch: split.columns, maxT: t, chunkRows: 7, comm: comm)
            model.initialize(seed: 3)
            let stepper = TrainingStep(store: store, threads: .one, comm: comm, clip: 0.1)
            XCTAssertEqual(try stepper.shareWeights(shared ? .auto : .off), shared)
            XCTAssertEqual(try model.sharePacks(comm: comm), shared && (MatmulPrecision.current == .medium || PackedMatrix.enabled))
            let carry = model.makeState()
            var x = [Int32](repeating: 0, count: t * split.columns), y = x
            var losses: [Double] = [], norms: [Double] = []
            for s in 0..<steps {
                for i in 0..<t { for j in 0..<split.columns {
                    x[i * split.columns + j] = xs[(s * t + i) * batch + split.firstColumn + j]
                    y[i * split.columns + j] = ys[(s * t + i) * batch + split.firstColumn + j]
                } }
                let r = try stepper.run(lr: 0.01, adamStep: s + 1) {
                    try model.trainStep(x: x, y: y, t: t, state: carry,
                                    dropout: DropoutKey(seed: 5, step: UInt64(s), firstColumn: split.firstColumn))
                }
                XCTAssertTrue(r.finite)
                losses.append(r.loss)
                norms.append(r.gradNorm)
            }
            try stepper.gatherWeights()
            return (losses, norms, Array(store.params.array[0..<store.count]))
        }

        let one = try train(SingleProcessCommunicator())
        XCTAssertGreaterThan(one.norms[0], 0.1, "the clip must be active for this test to cover it")
        for (n, vocabParallel) in [(2, false), (3, false), (4, false), (2, true), (3, true), (4, true)] { for piece in [nil, 16] as [Int?] {
            let ranks = try InProcessCommunicator.run(ranks: n) { try train($0, vocabParallel: vocabParallel, piece: piece) }
            for (r, got) in ranks.enumerated() {
                XCTAssertTrue(got.weights == ranks[0].weights, "rank \(r) of \(n) drifted from rank 0")
                XCTAssertEqual(got.losses, ranks[0].losses)
            }
            // one copy of the weights: each rank's Adam writes its shard and its rows of the table (and
            // of a vocab split) into it, and the weights are the same bits as with a copy each
            let shared = try InProcessCommunicator.run(ranks: n) { try train($0, vocabParallel: vocabParallel, shared: true, piece: piece) }
            for got in shared {
                XCTAssertTrue(got.weights == ranks[0].weights, "\(n) ranks, vocab-parallel \(vocabParallel), tied \(cfg.tieWeights): node-shared weights differ")
                XCTAssertEqual(got.losses, ranks[0].losses)
                XCTAssertEqual(got.norms, ranks[0].norms)
            }
            if !againstOneProcess { continue }
            for s in 0..<steps {
                XCTAssertEqual(ranks[0].losses[s], one.losses[s], accuracy: 1e-6 * one.losses[s], "\(n) ranks, vocab-parallel \(vocabParallel), tied \(cfg.tieWeights), step \(s)")
                XCTAssertEqual(ranks[0].norms[s], one.norms[s], accuracy: 1e-5 * one.norms[s], "\(n) ranks, vocab-parallel \(vocabParallel), step \(s)")
            }
            let worst = zip(ranks[0].weights, one.weights).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(worst, 1e-5, "\(n) ranks, vocab-parallel \(vocabParallel), tied \(cfg.tieWeights), piece \(String(describing: piece)): weights differ from one rank by \(worst)")
        } }
    }

    /// In float32, node-shared weights come with node-shared W_hh panels (`WeightPacks`) for the packed
    /// per-step products: each rank packs its share of every panel, and every rank's products read all of
    /// them. The same bits as a copy each, with several panels per layout (4H = 160 and H = 40 columns; the
    /// model above has one). Skipped on a CPU without packed products.
    func testNodeSharedPanelsGiveTheSameBitsInFloat32() throws {
        guard PackedMatrix.enabled else { throw XCTSkip("the per-step products are not packed on this CPU") }
        let cfgs = [ModelConfig(vocabSize: 40, embedding: 33, hidden: 40, layers: 2, cell: .lstm, dropout: 0.3),
                    ModelConfig(vocabSize: 70, embedding: 40, hidden: 40, layers: 1, cell: .gru, dropout: 0, tieWeights: true)]
        for cfg in cfgs { try nRankTrainingStepEqualsOneRank(cfg, againstOneProcess: false) }
    }

    /// With bf16 products, node-shared weights come with node-shared tiles (`WeightPacks`): each rank packs
    /// its share of every weight's column blocks, and every rank's products read all of them. The same bits
    /// as a copy each, which packs every weight itself (2–4 ranks, tied and untied, vocab split). Skipped on
    /// a CPU without AVX512-BF16.
    func testNodeSharedTilesGiveTheSameBitsInBF16() throws {
        guard BF16Kernel.available.first != nil else { throw XCTSkip("this CPU has no AVX512-BF16") }
        try MatmulPrecision.set(.medium)
        defer { try? MatmulPrecision.set(.highest) }
        let cfgs = [ModelConfig(vocabSize: 40, embedding: 33, hidden: 40, layers: 2, cell: .lstm, dropout: 0.3),
                    ModelConfig(vocabSize: 70, embedding: 40, hidden: 40, layers: 1, cell: .gru, dropout: 0, tieWeights: true)]
        for cfg in cfgs { try nRankTrainingStepEqualsOneRank(cfg, againstOneProcess: false) }
    }

    /// A learnable corpus in a fresh directory and a small GRU run config over it.
    func smallRun() throws -> (dir: String, config: RunConfig, corpora: LanguageModelCorpora) {
        let dir = NSTemporaryDirectory() + "ddplm-dist-\(getpid())-\(UUID().uuidString.prefix(8))"
        try AtomicFile.makeDirectory(dir)
        var rng = SplitMix64(seed: 4)
        for (name, n) in [("train", 3000), ("valid", 800), ("test", 800)] {
            try AtomicFile.write((0..<n).map { k in "w\(k % 9 == 8 ? Int(rng.next() % 17) : (k * 5) % 17)" }.joined(separator: " "),
                                 to: "\(dir)/\(name).txt")
        }
        var data = RunConfig.DataConfig(train: dir + "/train.txt", valid: dir + "/valid.txt", test: dir + "/test.txt")
        data.batch = 4
        data.bptt = 8
        let corpora = try LanguageModelCorpora.build(data)
        var cfg = RunConfig(model: ModelConfig(vocabSize: corpora.vocab.count, embedding: 8, hidden: 8, cell: .gru, dropout: 0.1),
                            vocabHash: corpora.vocab.hash, data: data)
        cfg.training.lr = 0.02
        cfg.training.evalEvery = 10
        cfg.stop.maxSteps = 40
        cfg.stop.epochs = 10
        cfg.logging.logEvery = 1
        cfg.logging.saveEvery = 15
        return (dir, cfg, corpora)
    }

    /// `overlap` .on by default: in-process ranks are one node, where auto would share the weights
    /// (`NodeSharedWeights`) instead of exchanging them.
    @Sendable static func options(_ out: String, resume: Bool = false, overlap: ExchangeOverlap = .on) -> TrainingLoop.Options {
        var o = TrainingLoop.Options(dir: RunDirectory(out))
        o.progress = { _ in }
        o.stopRequested = { false }
        o.resume = resume
        o.overlap = overlap
        return o
    }

    /// Tensor `e`'s values as `file` holds them (shape as `e` says).
    static func floats(_ file: SafeTensors, _ e: SafeTensors.Entry) throws -> [Float] {
        var x = [Float](repeating: 0, count: e.shape.reduce(1, *))
        try file.copyFloats(e.name, shape: e.shape, into: &x, file: e.name)
        return x
    }

    static func losses(_ run: String, _ type: String) throws -> [Double] {
        try String(contentsOfFile: "\(run)/metrics.jsonl", encoding: .utf8).split(separator: "\n").compactMap {
            let o = try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
            return o["type"] as? String == type ? o["loss"] as? Double : nil
        }
    }

    /// The whole loop (validation, LR decay, best model, checkpoints, test) on 2 in-process ranks writes the
    /// same run as one process; with the weights node-shared (overlap auto on one node), the same bits as
    /// with a copy each.
    func testTwoRankTrainingLoopEqualsOneRank() throws {
        let (dir, config, corpora) = try smallRun()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let one = try LanguageModelTraining.run(config: config, corpora: corpora, options: Self.options(dir + "/one"), comm: SingleProcessCommunicator())
        for (vocabParallel, overlap) in [(false, ExchangeOverlap.on), (true, .on), (false, .auto), (true, .auto)] {
            var split = config
            split.training.vocabParallel = vocabParallel
            let name = (vocabParallel ? "/two-vocab-parallel" : "/two"), out = dir + name + (overlap == .auto ? "-shared" : "")
            let what = (vocabParallel ? "vocab-parallel" : "data-parallel") + (overlap == .auto ? ", node-shared" : "")
            let two = try InProcessCommunicator.run(ranks: 2) { [split] comm in
                try LanguageModelTraining.run(config: split, corpora: corpora, options: Self.options(out, overlap: overlap), comm: comm)
            }
            if overlap == .auto {
                XCTAssertEqual(try Self.losses(out, "train"), try Self.losses(dir + name, "train"), what)
                XCTAssertEqual(try Self.losses(out, "test"), try Self.losses(dir + name, "test"), what)
                for file in ["model.safetensors", "latest.safetensors"] {
                    let fa = try SafeTensors.read(path: "\(dir + name)/\(file)"), fb = try SafeTensors.read(path: "\(out)/\(file)")
                    for e in fa.entries { XCTAssertTrue(try Self.floats(fa, e) == Self.floats(fb, e), "\(what) \(file) \(e.name)") }
                }
            }
            XCTAssertEqual(two[0].state.step, 40)
            XCTAssertEqual(two[0].state.ranks, 2)
            XCTAssertEqual(two[0].state.schedule.decays, one.state.schedule.decays, what)
            XCTAssertEqual(two[0].state.lr, one.state.lr, what)
            XCTAssertEqual(two[0].testLoss!, one.testLoss!, accuracy: 1e-5, what)
            for type in ["train", "valid", "test"] {
                let a = try Self.losses(dir + "/one", type), b = try Self.losses(out, type)
                XCTAssertEqual(a.count, b.count, type)
                for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(x)), "\(what) \(type)") }
            }
            for file in ["model.safetensors", "latest.safetensors"] {
                let fa = try SafeTensors.read(path: "\(dir)/one/\(file)"), fb = try SafeTensors.read(path: "\(out)/\(file)")
                XCTAssertEqual(fa.entries.map(\.name), fb.entries.map(\.name))
                for e in fa.entries {
                    let x = try Self.floats(fa, e), y = try Self.floats(fb, e)
                    let worst = zip(x, y).map { abs($0 - $1) }.max() ?? 0
                    XCTAssertLessThan(worst, 1e-4, "\(what) \(file) \(e.name)")
                }
            }
        }
    }

    /// A run checkpointed on 2 ranks continues on 1 and on 3 ranks (carries re-sliced by global column),
    /// and a 1-rank checkpoint continues on 2: the losses follow the uninterrupted 1-rank run.
    func testResumeOnAnotherRankCount() throws {
        let (dir, base, corpora) = try smallRun()
        var config = base
        defer { try? FileManager.default.removeItem(atPath: dir) }
        config.data.batch = 6
        config.stop.maxSteps = 30
        let full = config
        _ = try LanguageModelTraining.run(config: full, corpora: corpora, options: Self.options(dir + "/ref"), comm: SingleProcessCommunicator())
        var half = config
        half.stop.maxSteps = 15
        let first = half
        for (a, b) in [(2, 1), (2, 3), (1, 2)] {
            let out = "\(dir)/\(a)to\(b)"
            // 2 → 3 with the weights node-shared on both sides (restored, then shared)
            let overlap: ExchangeOverlap = b == 3 ? .auto : .on
            _ = try InProcessCommunicator.run(ranks: a) { comm in
                try LanguageModelTraining.run(config: first, corpora: corpora, options: Self.options(out, overlap: overlap), comm: comm)
            }
            let resumed = try InProcessCommunicator.run(ranks: b) { comm in
                try LanguageModelTraining.run(config: full, corpora: corpora, options: Self.options(out, resume: true, overlap: overlap), comm: comm)
            }
            XCTAssertEqual(resumed[0].state.step, 30)
            XCTAssertEqual(resumed[0].state.ranks, b)
            let ref = try Self.losses(dir + "/ref", "train"), got = try Self.losses(out, "train")
            XCTAssertEqual(ref.count, got.count, "\(a) → \(b) ranks")
            for (x, y) in zip(ref, got) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(x)), "\(a) → \(b) ranks") }
        }
    }
}
