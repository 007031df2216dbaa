import Foundation

/// The run directory:
///   config.json        every hyper-parameter (RunConfig)
///   vocab.txt          one token per line, line number = id
///   model.safetensors  the best weights under PyTorch state_dict names
///   latest.safetensors full trainer state for --resume (weights, Adam moments, carries, counters)
///   metrics.jsonl      one JSON object per log interval / validation / test
/// Every file is replaced atomically.
public struct RunDirectory {
    public let path: String
    public init(_ path: String) { self.path = path }

    public var config: String { path + "/config.json" }
    public var vocab: String { path + "/vocab.txt" }
    public var model: String { path + "/model.safetensors" }
    public var latest: String { path + "/latest.safetensors" }
    public var metrics: String { path + "/metrics.jsonl" }

    public var hasRun: Bool {
        FileManager.default.fileExists(atPath: model) || FileManager.default.fileExists(atPath: latest)
    }
}

/// Weights in and out of safetensors, with shapes checked against the config.
public enum Checkpoint {
    /// The model's tensors under their PyTorch names (a tied decoder weight is written under both names,
    /// as PyTorch's state_dict lists both).
    public static func tensors(of layout: ParameterLayout, in buffer: UnsafePointer<Float>, prefix: String = "") -> [SafeTensors.Tensor] {
        layout.specs.map { SafeTensors.Tensor(name: prefix + $0.name, shape: $0.shape, data: buffer + $0.offset) }
    }

    /// The run's config.json, with clear errors for a missing directory or file.
    public static func config(_ dir: String) throws -> RunConfig {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw DDPLMError("checkpoint directory '\(dir)' does not exist")
        }
        let run = RunDirectory(dir)
        for f in [run.config, run.vocab, run.model] where !FileManager.default.fileExists(atPath: f) {
            throw DDPLMError("checkpoint directory '\(dir)' is missing \((f as NSString).lastPathComponent)")
        }
        return try RunConfig.load(run.config)
    }

    public static func saveModel(_ model: LanguageModel, to path: String, metadata: [String: String] = [:]) throws {
        try SafeTensors.write(tensors(of: model.layout, in: model.params.ptr), metadata: metadata, to: path)
    }

    /// Loads every tensor of `layout` from `file` (with `prefix`) into `buffer`; a tied decoder weight must
    /// equal the encoder weight.
    public static func load(_ layout: ParameterLayout, from file: SafeTensors, prefix: String = "",
                            into buffer: UnsafeMutablePointer<Float>, name: String) throws {
        for spec in layout.specs where !spec.isAlias {
            try file.copyFloats(prefix + spec.name, shape: spec.shape, into: buffer + spec.offset, file: name)
        }
    }

    /// Opens a run directory for eval/generate: config, vocabulary and best weights, all cross-checked.
    public static func open(_ dir: String, batch: Int, maxT: Int, threads: Int = 1) throws -> (RunConfig, Vocabulary, LanguageModel) {
        let run = RunDirectory(dir)
        let config = try Checkpoint.config(dir)
        try config.model.validate()
        let vocab = try Vocabulary.load(run.vocab)
        guard vocab.count == config.model.vocabSize else {
            throw DDPLMError("'\(run.vocab)' has \(vocab.count) tokens but config.json says the model has \(config.model.vocabSize)")
        }
        guard config.vocabHash.isEmpty || vocab.hash == config.vocabHash else {
            throw DDPLMError("'\(run.vocab)' does not match the vocabulary the model was trained with (hash differs)")
        }
        let file = try SafeTensors.read(path: run.model)
        let model = LanguageModel(config: config.model, batch: batch, maxT: maxT, chunkRows: config.chunkRows, threads: threads)
        try load(model.layout, from: file, into: model.params.ptr, name: "'\(run.model)'")
        return (config, vocab, model)
    }
}
