import Foundation

/// Starting or continuing a classification run: checks the settings and that every rank agrees, restores
/// or initialises the state (with pretrained vectors for a new run), prepares the run directory (rank 0),
/// then runs the same `TrainingLoop` as the language model.
public enum ClassifierTraining {
    /// The summary is for library callers; `ddplm` itself reports everything through the loop's reporter.
    @discardableResult
    public static func run(config: ClassifierRunConfig, corpora: ClassificationCorpora, options: TrainingLoop.Options,
                           overwrite: Bool = false, comm: Communicator) throws -> TrainingLoop.Summary {
        try config.validate(ranks: comm.size)
        let dir = options.dir
        if options.resume {
            try config.refuseFixedChanges(from: try ClassifierRunConfig.load(dir.config), run: dir.path)
        }
        guard corpora.vocab.count == config.model.vocabSize, corpora.vocab.hash == config.vocabHash, corpora.labels == config.labels else {
            throw DDPLMError("the vocabulary or labels do not match the ones config.json records")
        }
        let task = ClassificationTask(config: config, corpora: corpora, comm: comm, threads: options.threads)
        try corpora.verifySame(comm)
        try comm.verifySame(config.hash, what: "the configuration (flags differ between ranks)")
        let loop = TrainingLoop(task: task, training: config.training, stop: config.stop, logging: config.logging,
                                identity: config.identity, options: options, comm: comm)
        try loop.prepare()
        if !options.resume {
            try task.loadVectors()
            try comm.verifySame(task.store.weightsHash, what: "the initial weights with pretrained vectors")
        }
        if comm.isRoot {
            try dir.begin(resume: options.resume, overwrite: overwrite, config: try config.encoded(), vocab: corpora.vocab.fileContents)
        }
        try comm.barrier()
        return try loop.run()
    }
}

/// A saved classifier, opened for `eval` and `predict`: config, vocabulary and the chosen weights
/// (`Checkpoint.weightsFile`), cross-checked.
public final class SavedClassifier {
    public let config: ClassifierRunConfig
    public let vocab: Vocabulary
    let store: ParameterStore
    let maxColumns: Int

    /// Why the weights came from latest.safetensors (no validation improved yet), when they did.
    public let note: String?

    let threads: ComputeThreads

    public init(_ dir: String, weights: SavedWeights? = nil, maxColumns: Int = 64, threads: ComputeThreads = .one) throws {
        self.threads = threads
        let run = try Checkpoint.requireRun(dir, kind: "run directory")
        config = try ClassifierRunConfig.load(run.config)
        try config.model.validate()
        vocab = try Vocabulary.load(run.vocab)
        guard vocab.count == config.model.vocabSize, vocab.hash == config.vocabHash else {
            throw DDPLMError("'\(run.vocab)' does not match the vocabulary the model was trained with")
        }
        store = ParameterStore(layout: TextClassifier.layout(config.model))
        let (path, note) = try Checkpoint.weightsFile(run, weights)
        self.note = note
        try Checkpoint.load(store.layout, from: try SafeTensors.read(path: path), into: store.params.ptr, name: "'\(path)'")
        self.maxColumns = maxColumns
    }

    /// The model with buffers for documents up to `maxT` tokens.
    private func model(maxT: Int) -> (TextClassifier, DocumentBatch) {
        let m = TextClassifier(config: config.model, store: store, maxColumns: maxColumns, maxT: maxT, threads: threads)
        return (m, DocumentBatch(maxColumns: maxColumns, maxT: m.maxT))
    }

    /// Labelled documents in this run's vocabulary and labels (a file or a directory).
    public func documents(_ path: String, role: String) throws -> DocumentSet {
        try ClassificationCorpora.load(path, role: role, vocab: vocab, labels: config.labels, maxTokens: config.data.maxTokens)
    }

    /// Loss and accuracy over labelled documents (a collective over `comm`'s ranks).
    public func evaluate(_ docs: DocumentSet, comm: Communicator) throws -> ClassifierEvaluator.Result {
        let (m, b) = model(maxT: docs.longest)
        return try ClassifierEvaluator.evaluate(model: m, batch: b, docs: docs, comm: comm)
    }

    /// The predicted label and its probability for each text.
    public func predict(_ texts: [String]) throws -> [(label: String, probability: Double)] {
        var docs = DocumentSet()
        for t in texts {
            docs.append(ClassificationCorpora.tokens(t, maxTokens: config.data.maxTokens).map { vocab.id(exactly: $0) }, label: 0)
        }
        let (model, batch) = model(maxT: docs.longest)
        var out = [(label: String, probability: Double)](repeating: ("", 0), count: texts.count)
        // documents in input order, batch by batch, each batch longest first
        let order = stride(from: 0, to: docs.count, by: batch.maxColumns).flatMap { start in
            docs.longestFirst((start..<min(docs.count, start + batch.maxColumns)).map { Int32($0) })
        }
        try model.forwardInBatches(docs, order: order, batch: batch) { columns in
            for (j, doc) in columns.enumerated() {
                let p = ClassifierLoss.predict(logits: model.logits.ptr, row: j, outputs: config.model.outputs)
                out[Int(doc)] = (config.labels[p.label], p.probability)
            }
        }
        return out
    }
}
