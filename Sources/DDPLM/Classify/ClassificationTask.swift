import Foundation

/// A text classifier as a `TrainingTask`: every epoch's bucketed batches (`DocumentBatcher`), this rank's
/// slice of each, the model's forward/backward, and loss + accuracy over the validation and test
/// documents, shared out over the ranks. Nothing is carried between batches.
final class ClassificationTask: TrainingTask {
    let config: ClassifierRunConfig
    let corpora: ClassificationCorpora
    let model: TextClassifier
    let comm: Communicator
    let batcher: DocumentBatcher
    let batch: DocumentBatch
    private var plan: [[Int32]] = []
    private var planEpoch = -1
    /// A line about the pretrained vectors, once loaded.
    private var vectorsNote = ""

    init(config: ClassifierRunConfig, corpora: ClassificationCorpora, comm: Communicator, threads: ComputeThreads = .one) {
        self.config = config
        self.corpora = corpora
        self.comm = comm
        let d = config.data
        batcher = DocumentBatcher(docs: corpora.train, batch: d.batch, seed: config.training.seed)
        let columns = (d.batch + comm.size - 1) / comm.size
        let longest = max([corpora.train, corpora.valid].map(\.longest).max()!, corpora.test?.longest ?? 0, config.model.minLength)
        let store = ParameterStore(layout: TextClassifier.layout(config.model), ranks: comm.size, rank: comm.rank)
        model = TextClassifier(config: config.model, store: store, maxColumns: columns, maxT: longest, threads: threads)
        batch = DocumentBatch(maxColumns: columns, maxT: model.maxT)
    }

    var store: ParameterStore { model.store }
    var batchesPerEpoch: Int { batcher.batchesPerEpoch }
    var showsPerplexity: Bool { false }
    var hasTestSplit: Bool { corpora.test != nil }

    var summary: String {
        let m = config.model, n = comm.size
        let shape: String
        switch m.kind {
        case .wordavg: shape = "E=\(m.embedding) hidden=\(m.hidden)"
        case .bilstm: shape = "E=\(m.embedding) H=\(m.hidden) layers=\(m.layers) bidirectional dropout=\(m.dropout)"
        case .cnn: shape = "E=\(m.embedding) filters=\(m.filters)×\(m.filterSizes.map(String.init).joined(separator: ",")) dropout=\(m.dropout)"
        }
        let c = corpora
        return "ddplm classify: \(m.kind.rawValue) V=\(m.vocabSize) \(shape) classes=\(config.labels.joined(separator: "/")) params=\(store.count) | batch \(config.data.batch) (\(n) rank\(n == 1 ? "" : "s")) | \(batchesPerEpoch) steps/epoch | \(c.train.count) train / \(c.valid.count) valid\(c.test.map { " / \($0.count) test" } ?? "") documents, \(c.train.tokens) train tokens, read in \(Format.fixed(c.seconds, 2))s\(vectorsNote)"
    }

    private func batches(_ epoch: Int) -> [[Int32]] {
        if epoch != planEpoch {
            plan = batcher.plan(epoch: epoch)
            planEpoch = epoch
        }
        return plan
    }

    func items(inBatch index: Int, epoch: Int) -> Int {
        batches(epoch)[index].reduce(0) { $0 + corpora.train.length(Int($1)) }
    }

    func initializeWeights() {
        model.initialize(seed: config.training.seed)
    }

    /// The pretrained vectors into the embedding (a new run only; a resumed run restores its weights).
    func loadVectors() throws {
        guard !config.data.vectors.isEmpty else { return }
        let found = try PretrainedVectors.load(config.data.vectors, vocab: corpora.vocab, dim: config.model.embedding,
                                               into: store.params.ptr + store.layout.offset("embedding.weight"))
        vectorsNote = " | vectors for \(found) of \(corpora.vocab.count - 2) words from '\(config.data.vectors)'"
    }

    func computeGradients(batch index: Int, epoch: Int, step: Int, ready: ExchangeSchedule?) -> Double {
        let docs = batches(epoch)[index]
        let n = comm.size, share = DocumentBatcher.slice(count: docs.count, rank: comm.rank, ranks: n)
        docs.withUnsafeBufferPointer { p in
            batch.fill(corpora.train, order: p.baseAddress! + share.lowerBound, count: share.count, firstColumn: share.lowerBound,
                       minLength: config.model.minLength)
        }
        // gradients of the batch's mean loss (1/k each, k documents in the global batch); the step takes
        // the mean over ranks of the returned losses, so each returns its summed loss · N/k
        let key = DropoutKey(seed: config.training.seed, step: UInt64(step), firstColumn: share.lowerBound)
        return model.trainStep(batch, dropout: key, scale: 1 / Float(docs.count), ready: ready).loss * Double(n) / Double(docs.count)
    }

    func resetCarriedState() {}

    func evaluate(_ which: EvalSplit) throws -> Evaluation {
        guard let docs = which == .valid ? corpora.valid : corpora.test else { return Evaluation(loss: .nan, accuracy: .nan) }
        let r = try ClassifierEvaluator.evaluate(model: model, batch: batch, docs: docs, comm: comm)
        return Evaluation(loss: r.loss, accuracy: r.accuracy)
    }

    func carriedStateTensors() throws -> [SafeTensors.Tensor] { [] }
    func restoreCarriedState(from file: SafeTensors, name: String) throws {}
}
