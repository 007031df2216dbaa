import Foundation

/// Every hyper-parameter of a run, saved as `config.json` in the run directory. The `pytorch` block
/// repeats the model shape under the argument names of PyTorch's word_language_model `RNNModel`, so a
/// PyTorch user can rebuild the module and `load_state_dict` the safetensors file.
public struct RunConfig: Codable, Equatable, Sendable {
    public var format = "ddplm-run-1"
    public var model: ModelConfig
    public var maxVocab: Int
    public var vocabHash: String
    public var train: String
    public var valid: String
    public var test: String
    public var batch: Int
    public var bptt: Int
    public var lr: Double
    public var lrDecay: Double
    public var clip: Double
    public var epochs: Int
    public var maxSteps: Int
    public var maxMinutes: Double
    public var evalEvery: Int
    public var logEvery: Int
    public var saveEvery: Int
    public var seed: UInt64
    public var chunkRows: Int
    public var skipNonFinite: Bool
    public var pytorch: PyTorchShape?

    public struct PyTorchShape: Codable, Equatable, Sendable {
        public var rnn_type: String
        public var ntoken: Int
        public var ninp: Int
        public var nhid: Int
        public var nlayers: Int
        public var dropout: Float
        public var tie_weights: Bool
    }

    public init(model: ModelConfig, maxVocab: Int = 50000, vocabHash: String = "", train: String, valid: String, test: String,
                batch: Int = 32, bptt: Int = 50, lr: Double = 1e-3, lrDecay: Double = 0.5, clip: Double = 5,
                epochs: Int = 1, maxSteps: Int = 0, maxMinutes: Double = 0, evalEvery: Int = 200, logEvery: Int = 20,
                saveEvery: Int = 200, seed: UInt64 = 53113, chunkRows: Int = 800, skipNonFinite: Bool = false) {
        self.model = model
        self.maxVocab = maxVocab
        self.vocabHash = vocabHash
        self.train = train
        self.valid = valid
        self.test = test
        self.batch = batch
        self.bptt = bptt
        self.lr = lr
        self.lrDecay = lrDecay
        self.clip = clip
        self.epochs = epochs
        self.maxSteps = maxSteps
        self.maxMinutes = maxMinutes
        self.evalEvery = evalEvery
        self.logEvery = logEvery
        self.saveEvery = saveEvery
        self.seed = seed
        self.chunkRows = chunkRows
        self.skipNonFinite = skipNonFinite
    }

    public mutating func fillPyTorchShape() {
        pytorch = PyTorchShape(rnn_type: model.cell.torchName, ntoken: model.vocabSize, ninp: model.embedding,
                               nhid: model.hidden, nlayers: model.layers, dropout: model.dropout, tie_weights: model.tieWeights)
    }

    /// Checks the training hyper-parameters (model shape is checked by ModelConfig once V is known).
    public func validateTraining(ranks: Int) throws {
        func positive(_ v: Int, _ flag: String) throws { if v <= 0 { throw DDPLMError("\(flag) must be positive (got \(v))") } }
        func nonNegative(_ v: Int, _ flag: String) throws { if v < 0 { throw DDPLMError("\(flag) must not be negative (got \(v))") } }
        try positive(batch, "--batch")
        try positive(bptt, "--bptt")
        try positive(maxVocab, "--vocab-size")
        try positive(epochs, "--epochs")
        try positive(evalEvery, "--eval-every")
        try positive(logEvery, "--log-every")
        try positive(chunkRows, "--chunk-rows")
        try nonNegative(maxSteps, "--max-steps")
        try nonNegative(saveEvery, "--save-every")
        if !(lr > 0 && lr.isFinite) { throw DDPLMError("--lr must be positive (got \(lr))") }
        if !(lrDecay > 0 && lrDecay <= 1) { throw DDPLMError("--lr-decay must be in (0, 1] (got \(lrDecay))") }
        if !(clip > 0 && clip.isFinite) { throw DDPLMError("--clip must be positive (got \(clip))") }
        if !(maxMinutes >= 0 && maxMinutes.isFinite) { throw DDPLMError("--max-minutes must not be negative (got \(maxMinutes))") }
        if batch % ranks != 0 {
            throw DDPLMError("--batch \(batch) is the global batch and must be divisible by the number of ranks (\(ranks))")
        }
    }

    public func encoded() throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try enc.encode(self), as: UTF8.self) + "\n"
    }

    public static func load(_ path: String) throws -> RunConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DDPLMError("'\(path)' is missing or unreadable")
        }
        do { return try JSONDecoder().decode(RunConfig.self, from: data) } catch {
            throw DDPLMError("'\(path)' is not a valid ddplm config.json (\(Self.describe(error)))")
        }
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let k, _): return "missing key '\(k.stringValue)'"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
            return "bad value at '\(c.codingPath.map(\.stringValue).joined(separator: "."))'"
        case DecodingError.dataCorrupted(let c):
            return c.codingPath.isEmpty ? "not JSON" : "bad value at '\(c.codingPath.map(\.stringValue).joined(separator: "."))'"
        default: return "\(error)"
        }
    }

    /// Fingerprint of the settings every rank must share.
    public var hash: UInt64 {
        var h = FNV1a64()
        h.add((try? encoded()) ?? "")
        return h.value
    }
}
