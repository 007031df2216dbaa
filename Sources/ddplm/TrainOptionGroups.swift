import ArgumentParser
import DDPLM
import Foundation

// The `train` options in the groups of `RunConfig`. Model, data and training are fixed for a run; stop
// and logging may change when it is resumed. Defaults come from the library's config types.
private let defaultModel = ModelConfig(vocabSize: 3)
private let defaultData = RunConfig.DataConfig(train: "", valid: "", test: "")
private let defaultTraining = RunConfig.TrainingConfig()
private let defaultStop = RunConfig.StopConfig()
private let defaultLogging = RunConfig.LoggingConfig()

struct ModelOptions: ParsableArguments {
    @Option(help: "Recurrent cell: lstm, gru or rnn_tanh (default \(defaultModel.cell.rawValue)).") var cell: CellType?
    @Option(help: "Embedding size E (default \(defaultModel.embedding)).") var emb: Int?
    @Option(help: "Hidden size H (default \(defaultModel.hidden)).") var hidden: Int?
    @Option(help: "Recurrent layers (default \(defaultModel.layers)).") var layers: Int?
    @Option(help: "Dropout on embeddings, between layers and before the decoder (default \(defaultModel.dropout)).") var dropout: Float?
    @Flag(help: "Tie the decoder weight to the embedding (needs --emb == --hidden).") var tieWeights = false

    var bindings: [ConfigBinding<ModelConfig>] {
        [.option("--cell", cell, \.cell), .option("--emb", emb, \.embedding), .option("--hidden", hidden, \.hidden),
         .option("--layers", layers, \.layers), .option("--dropout", dropout, \.dropout), .flag("--tie-weights", tieWeights, \.tieWeights)]
    }

    func validate() throws {
        var m = defaultModel
        bindings.apply(to: &m)
        try m.validateShape()
    }
}

struct DataOptions: ParsableArguments {
    @Option(help: "Training corpus (default: data/text8.train.txt, else the bundled data/sample).") var train: String?
    @Option(help: "Validation corpus (default: the training file's name with 'train' → 'dev').") var valid: String?
    @Option(help: "Test corpus (default: the training file's name with 'train' → 'test').") var test: String?
    @Option(help: "Most frequent training words kept in the vocabulary (default \(defaultData.maxVocab)).") var vocabSize: Int?
    @Option(help: "Global batch size B: columns of the token stream, split over the ranks (default \(defaultData.batch)).") var batch: Int?
    @Option(help: "Window length of truncated BPTT (default \(defaultData.bptt)).") var bptt: Int?

    var bindings: [ConfigBinding<RunConfig.DataConfig>] {
        [.option("--train", train, \.train), .option("--valid", valid, \.valid), .option("--test", test, \.test),
         .option("--vocab-size", vocabSize, \.maxVocab), .option("--batch", batch, \.batch), .option("--bptt", bptt, \.bptt)]
    }

    func validate() throws {
        var d = defaultData
        bindings.apply(to: &d)
        try d.validate()
    }

    /// The corpora of a new run: --train/--valid/--test, else text8 in data/, else the bundled sample.
    func resolved(note: (String) -> Void) throws -> RunConfig.DataConfig {
        var d: RunConfig.DataConfig
        if let t = train {
            func sibling(_ split: String) -> String {
                let dir = (t as NSString).deletingLastPathComponent, base = (t as NSString).lastPathComponent
                let name = base.replacingOccurrences(of: "train", with: split)
                return name == base ? "" : (dir.isEmpty ? name : dir + "/" + name)
            }
            d = .init(train: t, valid: sibling("dev"), test: sibling("test"))
            if (valid ?? d.valid).isEmpty || (test ?? d.test).isEmpty {
                throw DDPLMError("give --valid and --test with --train '\(t)' (their names cannot be derived from it)")
            }
        } else if FileManager.default.fileExists(atPath: "data/text8.train.txt") {
            d = .init(train: "data/text8.train.txt", valid: "data/text8.dev.txt", test: "data/text8.test.txt")
        } else if FileManager.default.fileExists(atPath: "data/sample/text8.train.txt") {
            note("ddplm train: data/text8.train.txt not found; training on the bundled 1 MB sample in data/sample (launch/get-text8 fetches real text8)")
            d = .init(train: "data/sample/text8.train.txt", valid: "data/sample/text8.dev.txt", test: "data/sample/text8.test.txt")
        } else {
            throw DDPLMError("no training corpus: data/text8.train.txt does not exist; run launch/get-text8 (or launch/get-text8 --from FILE), or pass --train FILE --valid FILE --test FILE")
        }
        bindings.apply(to: &d)
        return d
    }
}

struct TrainingOptions: ParsableArguments {
    @Option(help: "Adam learning rate (default \(defaultTraining.lr)).") var lr: Double?
    @Option(help: "Learning-rate factor when a validation does not improve (default \(defaultTraining.lrDecay)).") var lrDecay: Double?
    @Option(help: "Global gradient-norm clip (default \(defaultTraining.clip)).") var clip: Double?
    @Option(help: "Validate every N steps, and at each epoch's end (default \(defaultTraining.evalEvery)).") var evalEvery: Int?
    @Option(help: "Seed for initialisation and dropout (default \(defaultTraining.seed)).") var seed: UInt64?
    @Option(help: "Rows per chunk of the fused decoder/softmax (default \(defaultTraining.chunkRows): 160 MB of logits at V = 50002).") var chunkRows: Int?

    var bindings: [ConfigBinding<RunConfig.TrainingConfig>] {
        [.option("--lr", lr, \.lr), .option("--lr-decay", lrDecay, \.lrDecay), .option("--clip", clip, \.clip),
         .option("--eval-every", evalEvery, \.evalEvery), .option("--seed", seed, \.seed), .option("--chunk-rows", chunkRows, \.chunkRows)]
    }

    func validate() throws {
        var t = defaultTraining
        bindings.apply(to: &t)
        try t.validate()
    }
}

struct StopOptions: ParsableArguments {
    @Option(help: "Epochs over the training corpus (default \(defaultStop.epochs)).") var epochs: Int?
    @Option(help: "Stop after this many steps in total (default 0 = no limit).") var maxSteps: Int?
    @Option(help: "Stop after this many minutes of this invocation (default 0 = no limit).") var maxMinutes: Double?

    var bindings: [ConfigBinding<RunConfig.StopConfig>] {
        [.option("--epochs", epochs, \.epochs), .option("--max-steps", maxSteps, \.maxSteps), .option("--max-minutes", maxMinutes, \.maxMinutes)]
    }

    func validate() throws {
        var s = defaultStop
        bindings.apply(to: &s)
        try s.validate()
    }
}

struct LoggingOptions: ParsableArguments {
    @Option(help: "Progress line and metrics record every N steps (default \(defaultLogging.logEvery)).") var logEvery: Int?
    @Option(help: "Write latest.safetensors every N steps; 0 = only at the end (default \(defaultLogging.saveEvery)).") var saveEvery: Int?
    @Flag(help: "Skip a step whose loss or gradient is NaN/Inf instead of stopping.") var skipNonfinite = false
    @Option(help: "Verify every N steps that all ranks hold identical weights (debug; 0 = off).") var checkEvery: Int = 0
    @Option(help: .hidden) var debugNanAtStep: Int?

    var bindings: [ConfigBinding<RunConfig.LoggingConfig>] {
        [.option("--log-every", logEvery, \.logEvery), .option("--save-every", saveEvery, \.saveEvery),
         .flag("--skip-nonfinite", skipNonfinite, \.skipNonFinite)]
    }

    func validate() throws {
        var l = defaultLogging
        bindings.apply(to: &l)
        try l.validate()
        guard checkEvery >= 0 else { throw DDPLMError("--check-every must not be negative (got \(checkEvery))") }
    }
}
