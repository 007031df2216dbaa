import Foundation

/// Every setting of a classification run, saved as `config.json` (format `ddplm-classify-1`). `model`,
/// `labels`, `vocabHash`, `data` and `training` are fixed for the life of a run; `stop` and `logging` may
/// change on resume (the same sections, and the same rules, as the language model's `RunConfig`). The
/// `pytorch` block names the module class of `launch/torch-classify.py` and its constructor arguments.
public struct ClassifierRunConfig: RunConfigFile, Equatable, Sendable {
    static let kind = "a classifier run"
    static let command = "ddplm classify eval|predict"
    static let currentFormat = "ddplm-classify-1"
    var format = ClassifierRunConfig.currentFormat
    public var model: ClassifierConfig
    /// Class names; index = class id (sorted). With two, the second is the positive class.
    public var labels: [String]
    var vocabHash: String
    public var data: DataConfig
    public var training: RunConfig.TrainingConfig
    public var stop: RunConfig.StopConfig
    public var logging: RunConfig.LoggingConfig
    var pytorch: PyTorchModule

    /// Corpora and batching.
    public struct DataConfig: Codable, Equatable, Sendable {
        public var train: String
        /// Empty: hold out `validFraction` of the training documents (fixed seed).
        public var valid = ""
        /// Empty: no test at the end.
        public var test = ""
        public var validFraction = 0.3
        /// Most frequent training tokens kept (besides <unk> and <pad>).
        public var maxVocab = 25000
        /// Global batch: documents per step.
        public var batch = 64
        /// Documents longer than this keep their first `maxTokens` tokens (0 = no limit).
        public var maxTokens = 500
        /// Pretrained word vectors (GloVe text format) to start the embedding from; empty = none.
        public var vectors = ""
        public init(train: String) { self.train = train }

        /// The settings, and that the global batch gives every one of `ranks` ranks a document.
        public func validate(ranks: Int) throws {
            try validate()
            if ranks > batch { throw DDPLMError("--batch \(batch) is the global batch; it needs at least one document per rank (\(ranks) ranks)") }
        }

        public func validate() throws {
            try positive(batch, "--batch")
            try positive(maxVocab, "--vocab-size")
            try nonNegative(maxTokens, "--max-tokens")
            if valid.isEmpty && !(validFraction > 0 && validFraction < 1) {
                throw DDPLMError("--valid-fraction must be in (0, 1) (got \(validFraction))")
            }
        }
    }

    /// The module of `launch/torch-classify.py` that loads `model.safetensors` with `load_state_dict`.
    struct PyTorchModule: Codable, Equatable, Sendable {
        var `class`: String
        var args: [String: JSONArgument]

        init(_ m: ClassifierConfig) {
            `class` = m.kind.torchClass
            var a: [String: JSONArgument] = ["vocab_size": .int(m.vocabSize), "embedding_dim": .int(m.embedding),
                                             "output_dim": .int(m.outputs), "pad_idx": .int(Vocabulary.pad)]
            switch m.kind {
            case .wordavg:
                a["hidden_dim"] = .int(m.hidden)
            case .bilstm:
                a["hidden_dim"] = .int(m.hidden)
                a["n_layers"] = .int(m.layers)
                a["dropout"] = .float(Double(m.dropout))
            case .cnn:
                a["n_filters"] = .int(m.filters)
                a["filter_sizes"] = .ints(m.filterSizes)
                a["dropout"] = .float(Double(m.dropout))
            }
            args = a
        }
    }

    /// A constructor argument: an int, a float or a list of ints.
    enum JSONArgument: Codable, Equatable, Sendable {
        case int(Int), float(Double), ints([Int])
        func encode(to encoder: any Swift.Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .int(let v): try c.encode(v)
            case .float(let v): try c.encode(v)
            case .ints(let v): try c.encode(v)
            }
        }
        init(from decoder: any Swift.Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let v = try? c.decode(Int.self) { self = .int(v) }
            else if let v = try? c.decode(Double.self) { self = .float(v) }
            else { self = .ints(try c.decode([Int].self)) }
        }
    }

    public init(model: ClassifierConfig, labels: [String], vocabHash: String, data: DataConfig,
                training: RunConfig.TrainingConfig = .init(), stop: RunConfig.StopConfig = .init(),
                logging: RunConfig.LoggingConfig = .init()) {
        self.model = model
        self.labels = labels
        self.vocabHash = vocabHash
        self.data = data
        self.training = training
        self.stop = stop
        self.logging = logging
        pytorch = PyTorchModule(model)
    }

    public func validate(ranks: Int) throws {
        try model.validate()
        try data.validate(ranks: ranks)
        try training.validate()
        if training.vocabParallel { throw DDPLMError("--vocab-parallel splits a language model's decoder; a classifier has none") }
        try stop.validate()
        try logging.validate()
        guard labels.count == model.classes else { throw DDPLMError("config: \(labels.count) labels but the model has \(model.classes) classes") }
    }

    struct FixedParts: Codable, Equatable {
        var model: ClassifierConfig
        var labels: [String]
        var vocabHash: String
        var data: DataConfig
        var training: RunConfig.TrainingConfig
    }

    var fixedParts: FixedParts { FixedParts(model: model, labels: labels, vocabHash: vocabHash, data: data, training: training) }

    /// Resuming: the fixed parts cannot change (`RunConfigFile.refuseFixedChangesOf`).
    public func refuseFixedChanges(from recorded: Self, run: String) throws { try refuseFixedChangesOf(recorded, run: run) }

    static let flagNames = [
        "model.kind": "--model", "model.embedding": "--emb", "model.hidden": "--hidden", "model.layers": "--layers",
        "model.dropout": "--dropout", "model.filters": "--filters", "model.filterSizes": "--filter-sizes",
        "model.vocabSize": "the vocabulary size", "model.classes": "the number of labels", "labels": "the labels",
        "vocabHash": "the vocabulary", "data.train": "--train", "data.valid": "--valid", "data.test": "--test",
        "data.validFraction": "--valid-fraction", "data.maxVocab": "--vocab-size", "data.batch": "--batch",
        "data.maxTokens": "--max-tokens", "data.vectors": "--vectors",
    ].merging(RunConfig.trainingFlagNames) { a, _ in a }

    public static func load(_ path: String) throws -> ClassifierRunConfig { try loadFile(path) }

    /// Fingerprint of the fixed parts: ties a checkpoint to its run.
    public var identity: String { fixedFingerprint(salt: "classify") }
}
