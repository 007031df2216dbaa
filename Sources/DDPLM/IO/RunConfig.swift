import Foundation

/// Every setting of a run, saved as `config.json` in the run directory, in the groups the `train`
/// command's options come in. `model`, `data` and `training` are fixed for the life of a run; `stop` and
/// `logging` may change when it is resumed. The `pytorch` block repeats the model shape under the
/// argument names of PyTorch's word_language_model `RNNModel`, so a PyTorch user can rebuild the module
/// and `load_state_dict` the safetensors file. Defaults live here, once: the CLI's help shows them.
public struct RunConfig: RunConfigFile, Equatable, Sendable {
    static let kind = "a language-model run"
    static let command = "ddplm eval|generate"
    static let currentFormat = "ddplm-run-2"
    var format = RunConfig.currentFormat
    public var model: ModelConfig
    /// Hash of the vocabulary the model's token ids refer to (vocab.txt).
    var vocabHash: String
    public var data: DataConfig
    public var training: TrainingConfig
    public var stop: StopConfig
    public var logging: LoggingConfig
    var pytorch: PyTorchShape

    /// Corpora and batching.
    public struct DataConfig: Codable, Equatable, Sendable {
        public var train: String
        public var valid: String
        public var test: String
        /// Most frequent training words kept (besides <unk> and <pad>).
        public var maxVocab = 50000
        /// Global batch: columns of the token stream.
        public var batch = 32
        /// Window length of truncated BPTT.
        public var bptt = 50
        public init(train: String, valid: String, test: String) {
            self.train = train
            self.valid = valid
            self.test = test
        }

        public func validate() throws {
            try positive(batch, "--batch")
            try positive(bptt, "--bptt")
            try positive(maxVocab, "--vocab-size")
        }
    }

    /// The optimisation: fixed for a run (changing any of these changes the trajectory).
    public struct TrainingConfig: Codable, Equatable, Sendable {
        public var lr = 1e-3
        /// Learning-rate factor when a scheduled validation does not improve.
        public var lrDecay = 0.5
        /// Global gradient-norm clip.
        public var clip = 5.0
        /// Validate every N steps (and at each epoch's end).
        public var evalEvery = 200
        /// Initialisation and dropout masks.
        public var seed: UInt64 = 53113
        /// Rows per chunk of the fused decoder/softmax (changes float summation order, so it is fixed).
        public var chunkRows = 800
        /// The gradient reduce-scatter's wire format (`GradientWire`; bf16 changes the trajectory).
        public var gradientWire = GradientWire.fp32
        /// On N ranks, split the decoder by vocabulary rows (`VocabParallelDecoder`) instead of exchanging
        /// its gradient and weights (changes the float summation order, so it is fixed).
        public var vocabParallel = false
        public init() {}

        enum CodingKeys: String, CodingKey { case lr, lrDecay, clip, evalEvery, seed, chunkRows, gradientWire, vocabParallel }

        /// A config.json without `gradientWire` (written before it existed, or fp32) means fp32; without
        /// `vocabParallel`, off.
        public init(from decoder: any Swift.Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            lr = try c.decode(Double.self, forKey: .lr)
            lrDecay = try c.decode(Double.self, forKey: .lrDecay)
            clip = try c.decode(Double.self, forKey: .clip)
            evalEvery = try c.decode(Int.self, forKey: .evalEvery)
            seed = try c.decode(UInt64.self, forKey: .seed)
            chunkRows = try c.decode(Int.self, forKey: .chunkRows)
            gradientWire = try c.decodeIfPresent(GradientWire.self, forKey: .gradientWire) ?? .fp32
            vocabParallel = try c.decodeIfPresent(Bool.self, forKey: .vocabParallel) ?? false
        }

        /// fp32 is not written, so the config (and the run identity it hashes to) of an fp32 run is what it
        /// was before the setting existed.
        public func encode(to encoder: any Swift.Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(lr, forKey: .lr)
            try c.encode(lrDecay, forKey: .lrDecay)
            try c.encode(clip, forKey: .clip)
            try c.encode(evalEvery, forKey: .evalEvery)
            try c.encode(seed, forKey: .seed)
            try c.encode(chunkRows, forKey: .chunkRows)
            if gradientWire != .fp32 { try c.encode(gradientWire, forKey: .gradientWire) }
            if vocabParallel { try c.encode(vocabParallel, forKey: .vocabParallel) }
        }

        public func validate() throws {
            if !(lr > 0 && lr.isFinite) { throw DDPLMError("--lr must be positive (got \(lr))") }
            if !(lrDecay > 0 && lrDecay <= 1) { throw DDPLMError("--lr-decay must be in (0, 1] (got \(lrDecay))") }
            if !(clip > 0 && clip.isFinite) { throw DDPLMError("--clip must be positive (got \(clip))") }
            try positive(evalEvery, "--eval-every")
            try positive(chunkRows, "--chunk-rows")
        }
    }

    /// When to stop: may change on resume.
    public struct StopConfig: Codable, Equatable, Sendable {
        public var epochs = 1
        /// Total steps; 0 = no limit.
        public var maxSteps = 0
        /// Minutes of this invocation; 0 = no limit.
        public var maxMinutes = 0.0
        public init() {}

        public func validate() throws {
            try positive(epochs, "--epochs")
            try nonNegative(maxSteps, "--max-steps")
            if !(maxMinutes >= 0 && maxMinutes.isFinite) { throw DDPLMError("--max-minutes must not be negative (got \(maxMinutes))") }
        }
    }

    /// Progress, checkpoints, failure policy: may change on resume.
    public struct LoggingConfig: Codable, Equatable, Sendable {
        /// Progress line and metrics record every N steps.
        public var logEvery = 20
        /// latest.safetensors every N steps; 0 = only at the end.
        public var saveEvery = 200
        /// Skip a step whose loss or gradient is NaN/Inf instead of stopping.
        public var skipNonFinite = false
        /// Also write the metrics as TensorBoard scalars in RUN/tensorboard.
        public var tensorboard = false
        public init() {}

        enum CodingKeys: String, CodingKey { case logEvery, saveEvery, skipNonFinite, tensorboard }

        /// A key a config.json lacks (written before the setting existed) keeps its default.
        public init(from decoder: any Swift.Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = LoggingConfig()
            logEvery = try c.decodeIfPresent(Int.self, forKey: .logEvery) ?? d.logEvery
            saveEvery = try c.decodeIfPresent(Int.self, forKey: .saveEvery) ?? d.saveEvery
            skipNonFinite = try c.decodeIfPresent(Bool.self, forKey: .skipNonFinite) ?? d.skipNonFinite
            tensorboard = try c.decodeIfPresent(Bool.self, forKey: .tensorboard) ?? d.tensorboard
        }

        public func validate() throws {
            try positive(logEvery, "--log-every")
            try nonNegative(saveEvery, "--save-every")
        }
    }

    struct PyTorchShape: Codable, Equatable, Sendable {
        var rnn_type: String
        var ntoken: Int
        var ninp: Int
        var nhid: Int
        var nlayers: Int
        var dropout: Float
        var tie_weights: Bool

        public init(_ m: ModelConfig) {
            rnn_type = m.cell.torchName
            ntoken = m.vocabSize
            ninp = m.embedding
            nhid = m.hidden
            nlayers = m.layers
            dropout = m.dropout
            tie_weights = m.tieWeights
        }
    }

    public init(model: ModelConfig, vocabHash: String, data: DataConfig, training: TrainingConfig = .init(),
                stop: StopConfig = .init(), logging: LoggingConfig = .init()) {
        self.model = model
        self.vocabHash = vocabHash
        self.data = data
        self.training = training
        self.stop = stop
        self.logging = logging
        pytorch = PyTorchShape(model)
    }

    /// Checks every setting; `ranks` is the job's rank count (the global batch is split over it).
    public func validate(ranks: Int) throws {
        try model.validate()
        try data.validate()
        try training.validate()
        try stop.validate()
        try logging.validate()
        _ = try BatchSplit(batch: data.batch, ranks: ranks, rank: 0)
    }

    /// The parts fixed for the life of a run (model, vocabulary, data, training); stop and logging may
    /// change on resume.
    struct FixedParts: Codable, Equatable {
        var model: ModelConfig
        var vocabHash: String
        var data: DataConfig
        var training: TrainingConfig
    }

    var fixedParts: FixedParts { FixedParts(model: model, vocabHash: vocabHash, data: data, training: training) }

    /// Resuming: the fixed parts cannot change (`RunConfigFile.refuseFixedChangesOf`).
    public func refuseFixedChanges(from recorded: Self, run: String) throws { try refuseFixedChangesOf(recorded, run: run) }

    static let flagNames = [
        "model.cell": "--cell", "model.embedding": "--emb", "model.hidden": "--hidden", "model.layers": "--layers",
        "model.dropout": "--dropout", "model.tieWeights": "--tie-weights", "model.vocabSize": "the vocabulary size",
        "vocabHash": "the vocabulary", "data.train": "--train", "data.valid": "--valid", "data.test": "--test",
        "data.maxVocab": "--vocab-size", "data.batch": "--batch", "data.bptt": "--bptt",
    ].merging(trainingFlagNames) { a, _ in a }

    static let trainingFlagNames = [
        "training.lr": "--lr", "training.lrDecay": "--lr-decay", "training.clip": "--clip", "training.evalEvery": "--eval-every",
        "training.seed": "--seed", "training.chunkRows": "--chunk-rows", "training.gradientWire": "--grad-wire",
        "training.vocabParallel": "--vocab-parallel",
    ]

    public static func load(_ path: String) throws -> RunConfig { try loadFile(path) }

    /// Fingerprint of the fixed parts: what ties a checkpoint to its run.
    public var identity: String { fixedFingerprint() }
}

func positive(_ v: Int, _ flag: String) throws { if v <= 0 { throw DDPLMError("\(flag) must be positive (got \(v))") } }
func nonNegative(_ v: Int, _ flag: String) throws { if v < 0 { throw DDPLMError("\(flag) must not be negative (got \(v))") } }
