import XCTest
@testable import DDPLM

/// The exchange overlapped with the compute (the reduce-scatter with the backward, the all-gather with
/// the next forward): its segment plan, the decoder's row order, and training with it, which must give
/// the same bits as the exchange after the compute.
final class OverlappedExchangeTests: XCTestCase {
    func testPlanCoversEachBlockWithBoundedSegments() {
        let limits = OverlappedExchange.Limits(minimum: 10, maximum: 40, perBlock: 4)
        for (base, chunk, ranks, cuts) in [(0, 160, 2, [0, 25, 30, 200, 310]), (7, 96, 3, [7, 50, 51, 140, 250]), (0, 16, 4, [0, 3])] {
            let b = OverlappedExchange.plan(base: base, chunk: chunk, ranks: ranks, cuts: cuts, limits: limits)
            XCTAssertEqual(b.first, 0)
            XCTAssertEqual(b.last, chunk)
            for k in 1..<b.count {
                XCTAssertGreaterThan(b[k], b[k - 1], "bounds \(b)")
                XCTAssertLessThanOrEqual(b[k] - b[k - 1], max(40, chunk / 4), "bounds \(b)")
            }
        }
        // a tensor boundary at least `minimum` from the others and from the block's ends starts a segment
        let b = OverlappedExchange.plan(base: 0, chunk: 160, ranks: 2, cuts: [0, 25, 200], limits: limits)
        XCTAssertTrue(b.contains(25) && b.contains(40), "\(b)")  // 200 − 160 = 40 in block 1
    }

    func testRowOrderFinishesEveryRowOnce() throws {
        for (ranks, rows, width, offset) in [(2, 37, 5, 11), (3, 50, 7, 0), (4, 9, 13, 3)] {
            let parameters = offset + rows * width + 17
            let shard = OptimizerShard(parameters: parameters, ranks: ranks, rank: 0)
            XCTAssertEqual(shard.rounds.count, 1)
            let grads = FloatBuffer(count: shard.padded), params = FloatBuffer(count: shard.padded)
            let x = OverlappedExchange(grads: grads, params: params, shard: shard, ranks: ranks, rank: 0, parameters: parameters,
                                       cuts: [0, offset, offset + rows * width],
                                       wire: .fp32, channel: SingleProcessCommunicator(), limits: .init(minimum: 1, maximum: 8, perBlock: 1))
            let order = x.rowOrder(offset: offset, rows: rows, width: width)
            XCTAssertEqual(order.flatMap { Array($0) }.sorted(), Array(0..<rows))
            XCTAssertGreaterThan(order.count, 2)
            // the first piece lies in the last segment: its rows end where the tensor or a block ends
            XCTAssertTrue(order[0].upperBound == rows || (offset + order[0].upperBound * width) >= shard.rounds[0].chunk, "\(order)")
        }
    }

    /// Segments tile each round's pieces, in ascending order of the region, and every segment lies in
    /// one round (its parts are the same offsets of the round's N pieces).
    func testSegmentsTileEveryRound() {
        let limits = OverlappedExchange.Limits(minimum: 8, maximum: 40, perBlock: 4)
        for (p, ranks, piece, base) in [(1000, 3, 48, 0), (777, 2, 16, 13), (5000, 4, 160, 7), (100, 2, 64, 0)] {
            let shard = OptimizerShard(parameters: p, ranks: ranks, rank: 0, base: base, piece: piece)
            let plan = OverlappedExchange.plan(shard: shard, ranks: ranks, cuts: [base, base + 100, base + 333], limits: limits)
            var covered = [Int](repeating: 0, count: shard.padded)
            for (k, segment) in plan.enumerated() {
                if k > 0 { XCTAssertGreaterThan(segment.start, plan[k - 1].start) }
                XCTAssertTrue(shard.rounds.contains { $0.chunk == segment.stride && $0.start <= segment.start
                    && segment.start + segment.length <= $0.start + $0.chunk }, "segment \(segment) of \(shard.rounds)")
                for r in 0..<ranks { for i in segment.span(r) { covered[i - base] += 1 } }
            }
            XCTAssertEqual(covered, [Int](repeating: 1, count: shard.padded), "P=\(p) N=\(ranks) piece \(piece)")
        }
    }

    /// Trains `steps` steps on `ranks` in-process ranks, the model reporting final gradients to the
    /// overlapped exchange (or no overlap), and returns every rank's losses and weights.
    func train(_ cfg: ModelConfig, ranks: Int, overlap: Bool, verify: Bool = false, wire: GradientWire = .fp32,
               vocabParallel: Bool = false, piece: Int? = nil) throws -> [([Double], [Float])] {
        let batch = 6 * ranks, t = 4, steps = 3, v = cfg.vocabSize
        return try InProcessCommunicator.run(ranks: ranks) { comm -> ([Double], [Float]) in
            let split = try BatchSplit(batch: batch, comm: comm)
            let store = LanguageModel.store(cfg, ranks: comm.size, rank: comm.rank, vocabParallel: vocabParallel, piece: piece)
            XCTAssertEqual(store.vocabSplit != nil, vocabParallel)
            if let piece { XCTAssertGreaterThan(store.shard.rounds.count, 3, "piece \(piece)") }
            let model = LanguageModel(config: cfg, store: store, batch: split.columns, maxT: t, chunkRows: 5, comm: comm)
            model.initialize(seed: 9)
            let stepper = TrainingStep(store: store, threads: .one, comm: comm, clip: 0.5, wire: wire, overlap: overlap,
                                       segments: .init(minimum: 1, maximum: 16, perBlock: 1))
            XCTAssertEqual(stepper.overlapped != nil, overlap)
            if let o = stepper.overlapped {
                o.verifyFinality = verify
                XCTAssertGreaterThan(o.segments, vocabParallel ? 2 : 4)
            }
            let carry = model.makeState()
            var rng = SplitMix64(seed: 77)
            var x = [Int32](repeating: 0, count: t * split.columns), y = x
            var losses: [Double] = []
            for s in 0..<steps {
                for i in 0..<t { for j in 0..<batch {
                    let a = Int32(rng.next() % UInt64(v)), b = Int32(rng.next() % UInt64(v))
                    if j >= split.firstColumn && j < split.firstColumn + split.columns {
                        x[i * split.columns + j - split.firstColumn] = a
                        y[i * split.columns + j - split.firstColumn] = b
                    }
                } }
                let r = try stepper.run(lr: 0.02, adamStep: s + 1) { ready in
                    try model.trainStep(x: x, y: y, t: t, state: carry, dropout: DropoutKey(seed: 5, step: UInt64(s), firstColumn: split.firstColumn), ready: ready)
                }
                losses.append(r.loss)
            }
            try stepper.gatherWeights()
            return (losses, Array(store.params.array[0..<store.count]))
        }
    }

    /// The decoder split by vocabulary rows (and tied, the table with it): its first floats may be the
    /// sharded region's last (exchanged and awaited like any other range), the rest never travel until
    /// `gatherWeights`. With the overlap
    /// (and `verifyFinality`) the same bits as without, identical on every rank after the gather.
    func testVocabParallelDecoderGivesTheSameBitsWithOverlap() throws {
        let configs = [
            ModelConfig(vocabSize: 41, embedding: 6, hidden: 6, layers: 2, cell: .lstm, dropout: 0.2),
            ModelConfig(vocabSize: 29, embedding: 4, hidden: 7, layers: 1, cell: .gru, dropout: 0),
            // tied: the table split with the decoder, at the layout's front (outside the exchanged region)
            ModelConfig(vocabSize: 31, embedding: 5, hidden: 5, layers: 2, cell: .lstm, dropout: 0.1, tieWeights: true),
        ]
        for cfg in configs {
            for ranks in [2, 3] {
                let plain = try train(cfg, ranks: ranks, overlap: false, vocabParallel: true)
                for (verify, piece) in [(true, nil), (false, nil), (true, 16)] as [(Bool, Int?)] {
                    let reference = piece == nil ? plain : try train(cfg, ranks: ranks, overlap: false, vocabParallel: true, piece: piece)
                    let got = try train(cfg, ranks: ranks, overlap: true, verify: verify, vocabParallel: true, piece: piece)
                    for r in 0..<ranks {
                        XCTAssertEqual(got[r].0, reference[r].0, "\(cfg.cell) \(ranks) ranks, verify \(verify), piece \(String(describing: piece)): losses")
                        XCTAssertEqual(got[r].1, reference[0].1, "\(cfg.cell) \(ranks) ranks, verify \(verify), piece \(String(describing: piece)): rank \(r)'s weights")
                    }
                }
                // and close to the data-parallel decoder (only the summation order differs)
                let dataParallel = try train(cfg, ranks: ranks, overlap: false)
                for s in 0..<3 { XCTAssertEqual(plain[0].0[s], dataParallel[0].0[s], accuracy: 1e-5 * dataParallel[0].0[s]) }
                let worst = zip(plain[0].1, dataParallel[0].1).map { abs($0 - $1) }.max()!
                XCTAssertLessThan(worst, 1e-5, "\(cfg.cell) \(ranks) ranks: vocab-parallel vs data-parallel weights")
            }
        }
    }

    /// Untied (the embedding replicated, the decoder streamed), tied (the decoder's dW is only final
    /// after the embedding's backward), 1–2 layers, every cell: the same bits as without overlap, on
    /// every rank. `verifyFinality` proves no gradient range was reported before it was final and no
    /// weight range read before it arrived.
    func testOverlapGivesTheSameBitsAsTheExchangeAfterTheCompute() throws {
        let configs = [
            ModelConfig(vocabSize: 41, embedding: 6, hidden: 6, layers: 2, cell: .lstm, dropout: 0.2),
            ModelConfig(vocabSize: 37, embedding: 5, hidden: 5, layers: 1, cell: .gru, dropout: 0, tieWeights: true),
            ModelConfig(vocabSize: 29, embedding: 4, hidden: 7, layers: 2, cell: .rnnTanh, dropout: 0.1),
        ]
        for cfg in configs {
            for ranks in [2, 3] {
                let plain = try train(cfg, ranks: ranks, overlap: false)
                let rounds = try train(cfg, ranks: ranks, overlap: false, piece: 16)  // the region in many rounds
                for (verify, piece) in [(true, nil), (false, nil), (true, 16), (false, 16)] as [(Bool, Int?)] {
                    let reference = piece == nil ? plain : rounds
                    let got = try train(cfg, ranks: ranks, overlap: true, verify: verify, piece: piece)
                    for r in 0..<ranks {
                        XCTAssertEqual(got[r].0, reference[r].0, "\(cfg.cell) \(ranks) ranks, verify \(verify), piece \(String(describing: piece)): losses")
                        XCTAssertEqual(got[r].1, reference[0].1, "\(cfg.cell) \(ranks) ranks, verify \(verify), piece \(String(describing: piece)): rank \(r)'s weights")
                    }
                }
                for piece in [nil, 16] as [Int?] {
                    let bfPlain = try train(cfg, ranks: ranks, overlap: false, wire: .bf16, piece: piece)
                    let bf = try train(cfg, ranks: ranks, overlap: true, wire: .bf16, piece: piece)
                    for r in 0..<ranks { XCTAssertEqual(bf[r].1, bfPlain[0].1, "\(cfg.cell) \(ranks) ranks, bf16 wire, piece \(String(describing: piece)): rank \(r)") }
                }
            }
        }
    }

    /// A classifier's steps on `ranks` in-process ranks (documents of random lengths), with or without
    /// the overlapped exchange; every rank's weights after `steps` steps. `shortLast`: the last step's
    /// global batch holds one document, so the other ranks have none.
    func trainClassifier(_ kind: ClassifierKind, ranks: Int, overlap: Bool, verify: Bool = false, piece: Int? = nil,
                         shortLast: Bool = false) throws -> [[Float]] {
        var m = ClassifierConfig(kind: kind, vocabSize: 23, classes: 3)
        m.embedding = 5
        m.hidden = 4
        m.layers = 2
        m.filters = 3
        m.filterSizes = [2, 3]
        m.dropout = 0.2
        let globalBatch = 4 * ranks, steps = 3
        var rng = SplitMix64(seed: 21)
        var docs = DocumentSet()
        for _ in 0..<(shortLast ? globalBatch * (steps - 1) + 1 : globalBatch * steps) {
            let n = 3 + Int(rng.next() % 6)
            docs.append((0..<n).map { _ in Int32(2 + rng.next() % 21) }, label: Int32(rng.next() % 3))
        }
        let plan = DocumentBatcher(docs: docs, batch: globalBatch, seed: 4).plan(epoch: 0)
        XCTAssertEqual(plan.map(\.count).min(), shortLast ? 1 : globalBatch)
        let config = m, documents = docs
        return try InProcessCommunicator.run(ranks: ranks) { comm -> [Float] in
            let store = ParameterStore(layout: TextClassifier.layout(config), ranks: comm.size, rank: comm.rank, piece: piece)
            let model = TextClassifier(config: config, store: store, maxColumns: 4, maxT: 8)
            model.initialize(seed: 6)
            let batch = DocumentBatch(maxColumns: 4, maxT: model.maxT)
            let stepper = TrainingStep(store: store, threads: .one, comm: comm, clip: 0.5, overlap: overlap,
                                       segments: .init(minimum: 1, maximum: 4, perBlock: 16))
            if let o = stepper.overlapped { o.verifyFinality = verify; XCTAssertGreaterThan(o.segments, 2) }
            for s in 0..<steps {
                let global = plan[s]
                let share = DocumentBatcher.slice(count: global.count, rank: comm.rank, ranks: comm.size)
                global.withUnsafeBufferPointer {
                    batch.fill(documents, order: $0.baseAddress! + share.lowerBound, count: share.count, firstColumn: share.lowerBound,
                               minLength: config.minLength)
                }
                let scale = 1 / Float(global.count)  // the batch mean: TrainingStep sums over ranks
                _ = try stepper.run(lr: 0.02, adamStep: s + 1) { ready in
                    Double(model.trainStep(batch, dropout: DropoutKey(seed: 3, step: UInt64(s), firstColumn: share.lowerBound),
                                           scale: scale, ready: ready).loss)
                }
            }
            return Array(store.params.array[0..<store.count])
        }
    }

    /// The classifiers on the overlapped exchange (the BiLSTM awaits and reports layer by layer, the
    /// others wait for every weight and report nothing): the same bits as without it, on every rank;
    /// `verifyFinality` checks the BiLSTM's reports and awaits.
    func testClassifiersGiveTheSameBitsWithOverlap() throws {
        for kind in ClassifierKind.allCases {
            for ranks in [2, 3] {
                for piece in [nil, 16] as [Int?] {
                    let plain = try trainClassifier(kind, ranks: ranks, overlap: false, piece: piece)
                    for verify in [true, false] {
                        let got = try trainClassifier(kind, ranks: ranks, overlap: true, verify: verify, piece: piece)
                        for r in 0..<ranks { XCTAssertEqual(got[r], plain[0], "\(kind) \(ranks) ranks, verify \(verify), piece \(String(describing: piece)): rank \(r)'s weights") }
                    }
                }
            }
        }
    }

    /// An epoch's short last batch leaves ranks without documents: they report their zero gradients final
    /// in the order the others do, so the overlapped exchange's collectives still match (a mismatch hangs
    /// or sums the wrong segments).
    func testClassifiersWithoutDocumentsOnSomeRanksKeepTheExchangeInStep() throws {
        for kind in ClassifierKind.allCases {
            for ranks in [2, 3] {
                let plain = try trainClassifier(kind, ranks: ranks, overlap: false, shortLast: true)
                for verify in [true, false] {
                    let got = try trainClassifier(kind, ranks: ranks, overlap: true, verify: verify, shortLast: true)
                    for r in 0..<ranks { XCTAssertEqual(got[r], plain[0], "\(kind) \(ranks) ranks, verify \(verify): rank \(r)'s weights") }
                }
            }
        }
    }
}
