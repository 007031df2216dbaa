import Foundation

/// The language model as a `TrainingTask`: this rank's columns of the token stream (`BatchSplit`), read
/// in bptt windows with the hidden state carried across them, the model's fused forward/backward, and
/// validation/test on the whole splits.
final class LanguageModelTask: TrainingTask {
    let config: RunConfig
    let model: LanguageModel
    let split: BatchSplit
    let comm: Communicator
    let train: Batcher
    let valid: Batcher
    let test: Batcher
    let carry: RecurrentState
    let x: UnsafeMutablePointer<Int32>
    let y: UnsafeMutablePointer<Int32>
    /// The carry of every column [layers, B, H], for checkpoints (allocated once).
    let fullH: FloatBuffer
    let fullC: FloatBuffer
    let corporaSeconds: Double

    init(config: RunConfig, corpora: LanguageModelCorpora, comm: Communicator, threads: ComputeThreads) throws {
        let d = config.data
        self.config = config
        self.comm = comm
        split = try BatchSplit(batch: d.batch, comm: comm)
        train = try Batcher(ids: corpora.train, batch: d.batch, bptt: d.bptt, name: "training corpus '\(d.train)'")
        valid = try Batcher(ids: corpora.valid, batch: d.batch, bptt: d.bptt, name: "validation corpus '\(d.valid)'")
        test = try Batcher(ids: corpora.test, batch: d.batch, bptt: d.bptt, name: "test corpus '\(d.test)'")
        let store = LanguageModel.store(config.model, ranks: comm.size, rank: comm.rank, vocabParallel: config.training.vocabParallel)
        model = LanguageModel(config: config.model, store: store, batch: split.columns, maxT: d.bptt,
                              chunkRows: config.training.chunkRows, threads: threads, comm: comm)
        carry = model.makeState()
        x = .allocate(capacity: d.bptt * split.columns)
        y = .allocate(capacity: d.bptt * split.columns)
        let full = config.model.layers * d.batch * config.model.hidden
        fullH = FloatBuffer(count: full)
        fullC = FloatBuffer(count: config.model.cell == .lstm ? full : 0)
        corporaSeconds = corpora.seconds
    }

    deinit { x.deallocate(); y.deallocate() }

    var store: ParameterStore { model.store }
    var batchesPerEpoch: Int { train.windowCount }

    var summary: String {
        let m = config.model, n = comm.size
        return "ddplm: \(m.cell.torchName) V=\(m.vocabSize) E=\(m.embedding) H=\(m.hidden) layers=\(m.layers) params=\(store.count) | batch \(split.batch) (\(n) rank\(n == 1 ? "" : "s") × \(split.columns)) bptt \(train.bptt) | \(train.windowCount) steps/epoch | \(train.ids.count) train tokens tokenised in \(Format.fixed(corporaSeconds, 2))s"
            + (store.vocabSplit.map { " | \($0.weightAtFront ? "decoder and tied embedding" : "decoder") split by vocabulary rows (\($0.rows / n)–\(($0.rows + n - 1) / n) per rank)" } ?? "")
    }

    var showsPerplexity: Bool { true }
    var hasTestSplit: Bool { true }

    func items(inBatch index: Int, epoch: Int) -> Int { train.window(index).length * split.batch }

    func initializeWeights() { model.initialize(seed: config.training.seed) }

    func weightsShared(comm: Communicator) throws { try model.sharePacks(comm: comm) }

    func computeGradients(batch index: Int, epoch: Int, step: Int, ready: ExchangeSchedule?) throws -> Double {
        let t = train.fill(window: index, firstColumn: split.firstColumn, columns: split.columns, x: x, y: y)
        let key = DropoutKey(seed: config.training.seed, step: UInt64(step), firstColumn: split.firstColumn)
        return try model.trainStep(x: x, y: y, t: t, state: carry, dropout: key, ready: ready)
    }

    func resetCarriedState() { carry.reset() }

    func evaluate(_ which: EvalSplit) throws -> Evaluation {
        Evaluation(loss: try Evaluator.meanLoss(model: model, data: which == .valid ? valid : test, split: split, comm: comm).loss)
    }

    func carriedStateTensors() throws -> [SafeTensors.Tensor] {
        let shape = [config.model.layers, split.batch, config.model.hidden]
        var out: [SafeTensors.Tensor] = []
        for (mine, full, name) in [(carry.h, fullH, Checkpoint.carriedH), (carry.c, fullC, Checkpoint.carriedC)] where full.count > 0 {
            full.zero()
            carry.copyColumns(mine, full.ptr, totalColumns: split.batch, firstColumn: split.firstColumn, toFull: true)
            try comm.allReduceSum(full.ptr, count: full.count)
            out.append(.init(name: name, shape: shape, data: full.ptr))
        }
        return out
    }

    func restoreCarriedState(from file: SafeTensors, name: String) throws {
        let shape = [config.model.layers, split.batch, config.model.hidden]
        for (mine, full, tensor) in [(carry.h, fullH, Checkpoint.carriedH), (carry.c, fullC, Checkpoint.carriedC)] where full.count > 0 {
            try file.copyFloats(tensor, shape: shape, into: full.ptr, file: name)
            carry.copyColumns(mine, full.ptr, totalColumns: split.batch, firstColumn: split.firstColumn, toFull: false)
        }
    }
}
