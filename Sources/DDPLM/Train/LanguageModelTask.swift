import Foundation

/// The language model as a `TrainingTask`: this rank's columns of the token stream (`BatchSplit`), read
/// in bptt windows with the hidden state carried across them, the model's fused forward/backward, and
/// validation/test on the whole splits.
public final class LanguageModelTask: TrainingTask {
    public let config: RunConfig
    public let model: LanguageModel
    public let split: BatchSplit
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

    public init(config: RunConfig, corpora: LanguageModelCorpora, comm: Communicator, threads: ComputeThreads) throws {
        let d = config.data
        self.config = config
        self.comm = comm
        split = try BatchSplit(batch: d.batch, comm: comm)
        train = try Batcher(ids: corpora.train, batch: d.batch, bptt: d.bptt, name: "training corpus '\(d.train)'")
        valid = try Batcher(ids: corpora.valid, batch: d.batch, bptt: d.bptt, name: "validation corpus '\(d.valid)'")
        test = try Batcher(ids: corpora.test, batch: d.batch, bptt: d.bptt, name: "test corpus '\(d.test)'")
        let store = ParameterStore(layout: LanguageModel.layout(config.model), ranks: comm.size, rank: comm.rank)
        model = LanguageModel(config: config.model, store: store, batch: split.columns, maxT: d.bptt,
                              chunkRows: config.training.chunkRows, threads: threads)
        carry = model.makeState()
        x = .allocate(capacity: d.bptt * split.columns)
        y = .allocate(capacity: d.bptt * split.columns)
        let full = config.model.layers * d.batch * config.model.hidden
        fullH = FloatBuffer(count: full)
        fullC = FloatBuffer(count: config.model.cell == .lstm ? full : 0)
        corporaSeconds = corpora.seconds
    }

    deinit { x.deallocate(); y.deallocate() }

    public var store: ParameterStore { model.store }
    public var batchesPerEpoch: Int { train.windowCount }

    public var summary: String {
        let m = config.model, n = comm.size
        return "ddplm: \(m.cell.torchName) V=\(m.vocabSize) E=\(m.embedding) H=\(m.hidden) layers=\(m.layers) params=\(store.count) | batch \(split.batch) (\(n) rank\(n == 1 ? "" : "s") × \(split.columns)) bptt \(train.bptt) | \(train.windowCount) steps/epoch | \(train.ids.count) train tokens tokenised in \(Format.fixed(corporaSeconds, 2))s"
    }

    public func items(inBatch index: Int) -> Int { train.window(index).length * split.batch }

    public func initializeWeights() { model.initialize(seed: config.training.seed) }

    public func computeGradients(batch index: Int, step: Int) -> Double {
        let t = train.fill(window: index, firstColumn: split.firstColumn, columns: split.columns, x: x, y: y)
        let key = DropoutKey(seed: config.training.seed, step: UInt64(step), firstColumn: split.firstColumn)
        return model.trainStep(x: x, y: y, t: t, state: carry, dropout: key) / Double(t * split.columns)
    }

    public func resetCarriedState() { carry.reset() }

    public func evaluate(_ which: EvalSplit) throws -> Double {
        try Evaluator.meanLoss(model: model, data: which == .valid ? valid : test, split: split, comm: comm).loss
    }

    public func carriedStateTensors() throws -> [SafeTensors.Tensor] {
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

    public func restoreCarriedState(from file: SafeTensors, name: String) throws {
        let shape = [config.model.layers, split.batch, config.model.hidden]
        for (mine, full, tensor) in [(carry.h, fullH, Checkpoint.carriedH), (carry.c, fullC, Checkpoint.carriedC)] where full.count > 0 {
            try file.copyFloats(tensor, shape: shape, into: full.ptr, file: name)
            carry.copyColumns(mine, full.ptr, totalColumns: split.batch, firstColumn: split.firstColumn, toFull: false)
        }
    }
}

/// Starting or continuing a language-model run: checks the settings and that every rank agrees, prepares
/// the run directory (rank 0), then hands the task to the `TrainingLoop`.
public enum LanguageModelTraining {
    public static func run(config: RunConfig, corpora: LanguageModelCorpora, options: LoopOptions, overwrite: Bool = false,
                           comm: Communicator) throws -> TrainSummary {
        try config.validate(ranks: comm.size)
        guard corpora.vocab.count == config.model.vocabSize, corpora.vocab.hash == config.vocabHash else {
            throw DDPLMError("the vocabulary does not match the one in config.json (hash differs)")
        }
        let task = try LanguageModelTask(config: config, corpora: corpora, comm: comm, threads: options.threads)
        // corpus first: a different corpus also changes the vocabulary and so the config's vocab hash
        try corpora.verifySame(comm)
        try comm.verifySame(config.hash, what: "the configuration (flags differ between ranks)")
        // nothing is written before every input proved valid; rank 0 alone writes
        if comm.isRoot {
            let dir = options.dir
            if options.resume {
                try AtomicFile.write(try config.encoded(), to: dir.config)  // records changed stop conditions
                AtomicFile.removeStaleTemporaries(in: dir.path)
            } else {
                try dir.create(overwrite: overwrite, files: [(dir.config, try config.encoded()), (dir.vocab, corpora.vocab.fileContents)])
            }
        }
        try comm.barrier()
        return try TrainingLoop(task: task, config: config, options: options, comm: comm).run()
    }
}
