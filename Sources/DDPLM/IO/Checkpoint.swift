import Foundation

/// Weights and the resume state in and out of safetensors. Every name a checkpoint file uses lives here.
///
/// `model.safetensors`: the parameters under their PyTorch `state_dict` names (a tied decoder weight is
/// written under both names, as PyTorch's state_dict lists both).
///
/// `latest.safetensors` (the full trainer state for `--resume`):
///   <name>                         every parameter, as in model.safetensors
///   optimizer.exp_avg.<name>       Adam's first moment
///   optimizer.exp_avg_sq.<name>    Adam's second moment
///   state.h, state.c               the task's carried state (the language model's hidden state, by
///                                  global column, [layers, B, H]; c for LSTM only)
///   metadata "ddplm.trainer"       the TrainerState counters as JSON (sorted keys)
public enum Checkpoint {
    static let trainerStateKey = "ddplm.trainer"
    /// model.safetensors' metadata: the step and validation loss that made it the best.
    static let bestStepKey = "ddplm.step"
    static let bestLossKey = "ddplm.val_loss"
    static let firstMomentPrefix = "optimizer.exp_avg."
    static let secondMomentPrefix = "optimizer.exp_avg_sq."
    static let carriedH = "state.h"
    static let carriedC = "state.c"

    /// The layout's tensors in `buffer` under their names (with `prefix`).
    static func tensors(of layout: ParameterLayout, in buffer: UnsafePointer<Float>, prefix: String = "") -> [SafeTensors.Tensor] {
        layout.specs.map { SafeTensors.Tensor(name: prefix + $0.name, shape: $0.shape, data: buffer + $0.offset) }
    }

    /// Loads every stored tensor of `layout` from `file` (with `prefix`) into `buffer`.
    static func load(_ layout: ParameterLayout, from file: SafeTensors, prefix: String = "",
                            into buffer: UnsafeMutablePointer<Float>, name: String) throws {
        for spec in layout.stored {
            try file.copyFloats(prefix + spec.name, shape: spec.shape, into: buffer + spec.offset, file: name)
        }
    }

    /// model.safetensors: the weights in `params` (laid out as `layout`).
    static func saveWeights(_ layout: ParameterLayout, _ params: UnsafePointer<Float>, to path: String,
                                   metadata: [String: String] = [:]) throws {
        try SafeTensors.write(tensors(of: layout, in: params), metadata: metadata, to: path)
    }

    /// model.safetensors of the best validation so far: the weights and the step and loss that made them.
    static func saveBest(_ layout: ParameterLayout, _ params: UnsafePointer<Float>, to path: String, step: Int, validationLoss: Double) throws {
        try saveWeights(layout, params, to: path, metadata: [bestStepKey: "\(step)", bestLossKey: "\(validationLoss)"])
    }

    /// The step and validation loss a model.safetensors records (nil for weights saved otherwise).
    static func bestRecord(in file: SafeTensors) -> (step: String, loss: Double)? {
        guard let step = file.metadata[bestStepKey], let loss = file.metadata[bestLossKey].flatMap(Double.init) else { return nil }
        return (step, loss)
    }

    /// latest.safetensors: weights, both Adam moments (whole: gathered from the shards first), the
    /// task's carried-state tensors and the counters.
    static func writeLatest(_ store: ParameterStore, state: TrainerState, carried: [SafeTensors.Tensor], to path: String) throws {
        var tensors = Checkpoint.tensors(of: store.layout, in: store.params.ptr)
        tensors += Checkpoint.tensors(of: store.layout, in: store.m.ptr, prefix: firstMomentPrefix)
        tensors += Checkpoint.tensors(of: store.layout, in: store.v.ptr, prefix: secondMomentPrefix)
        tensors += carried
        try SafeTensors.write(tensors, metadata: [trainerStateKey: try state.encoded()], to: path)
    }

    /// The counters of a latest.safetensors.
    static func trainerState(in file: SafeTensors, name: String) throws -> TrainerState {
        guard let js = file.metadata[trainerStateKey],
              let state = try? JSONDecoder().decode(TrainerState.self, from: Data(js.utf8)) else {
            throw DDPLMError("\(name) has no trainer state (not a ddplm latest checkpoint)")
        }
        return state
    }

    /// Weights and moments of a latest.safetensors into `store`.
    static func restoreLatest(_ file: SafeTensors, into store: ParameterStore, name: String) throws {
        try load(store.layout, from: file, into: store.params.ptr, name: name)
        try load(store.layout, from: file, prefix: firstMomentPrefix, into: store.m.ptr, name: name)
        try load(store.layout, from: file, prefix: secondMomentPrefix, into: store.v.ptr, name: name)
    }

    /// The counters stored in a latest.safetensors, if it is readable.
    public static func savedState(_ path: String) -> TrainerState? {
        guard let f = try? SafeTensors.read(path: path) else { return nil }
        return try? trainerState(in: f, name: path)
    }

    /// The matrix products' precision a saved state records (a state from before the record: highest).
    /// An unknown value is an error.
    public static func precision(of state: TrainerState, name: String) throws -> MatmulPrecision {
        guard let raw = state.matmulPrecision else { return .highest }
        guard let p = MatmulPrecision(rawValue: raw) else {
            throw DDPLMError("'\(name)' records matmul precision '\(raw)', which this ddplm does not know (highest or medium)")
        }
        return p
    }

    /// The precision a run trained with, from its latest.safetensors (nil when there is none to read).
    public static func savedPrecision(_ dir: String) throws -> MatmulPrecision? {
        let path = RunDirectory(dir).latest
        return try savedState(path).map { try precision(of: $0, name: path) }
    }

    /// The run directory's config.json, vocab.txt and some saved weights, with clear errors.
    static func requireRun(_ dir: String, kind: String = "checkpoint directory") throws -> RunDirectory {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw DDPLMError("\(kind) '\(dir)' does not exist")
        }
        let run = RunDirectory(dir)
        for f in [run.config, run.vocab] where !FileManager.default.fileExists(atPath: f) {
            throw DDPLMError("\(kind) '\(dir)' is missing \((f as NSString).lastPathComponent)")
        }
        guard run.hasRun else {
            throw DDPLMError("\(kind) '\(dir)' has no saved weights yet (neither model.safetensors nor latest.safetensors)")
        }
        return run
    }

    /// The run's config.json, with clear errors for a missing directory or file.
    public static func config(_ dir: String) throws -> RunConfig {
        try RunConfig.load(requireRun(dir).config)
    }

    /// The weights file a command reads from `run`: the one asked for; by default the best model
    /// (model.safetensors), else, when no validation has improved yet, the latest state with a note.
    public static func weightsFile(_ run: RunDirectory, _ choice: SavedWeights?) throws -> (path: String, note: String?) {
        let fm = FileManager.default
        switch choice {
        case .best?:
            guard fm.fileExists(atPath: run.model) else {
                throw DDPLMError("'\(run.path)' has no model.safetensors: no validation has improved yet (use --weights latest)")
            }
            return (run.model, nil)
        case .latest?:
            guard fm.fileExists(atPath: run.latest) else {
                throw DDPLMError("'\(run.path)' has no latest.safetensors (the run saved no resumable state)")
            }
            return (run.latest, nil)
        case nil:
            if fm.fileExists(atPath: run.model) { return (run.model, nil) }
            let step = savedState(run.latest).map { " (step \($0.step))" } ?? ""
            return (run.latest, "no validation has improved yet, so there is no model.safetensors; using latest.safetensors\(step)")
        }
    }

    /// Opens a run directory for eval/generate: config (read here unless the caller already did),
    /// vocabulary and the chosen weights (see `weightsFile`), all cross-checked.
    public static func open(_ dir: String, config given: RunConfig? = nil, weights: SavedWeights? = nil, batch: Int, maxT: Int,
                            threads: ComputeThreads = .one) throws -> (config: RunConfig, vocab: Vocabulary, model: LanguageModel, note: String?) {
        let run = try requireRun(dir)
        let config = try given ?? RunConfig.load(run.config)
        try config.model.validate()
        let vocab = try Vocabulary.load(run.vocab)
        guard vocab.count == config.model.vocabSize else {
            throw DDPLMError("'\(run.vocab)' has \(vocab.count) tokens but config.json says the model has \(config.model.vocabSize)")
        }
        guard vocab.hash == config.vocabHash else {
            throw DDPLMError("'\(run.vocab)' does not match the vocabulary the model was trained with (hash differs)")
        }
        let (path, note) = try weightsFile(run, weights)
        let file = try SafeTensors.read(path: path)
        let model = LanguageModel(config: config.model, batch: batch, maxT: maxT, chunkRows: config.training.chunkRows, threads: threads)
        try load(model.layout, from: file, into: model.store.params.ptr, name: "'\(path)'")
        return (config, vocab, model, note)
    }
}

/// Which saved weights `eval`, `generate` and `classify eval|predict` read: the best validation's
/// (model.safetensors) or the last saved state's (latest.safetensors).
public enum SavedWeights: String, CaseIterable, Sendable {
    case best, latest
}
