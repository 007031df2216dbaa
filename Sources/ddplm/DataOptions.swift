import ArgumentParser
import DDPLM
import Foundation

/// Corpora and batching (fixed for a run).
struct DataOptions: ConfigOptionGroup {
    static var defaults: RunConfig.DataConfig { ConfigDefaults.data }
    static func check(_ root: RunConfig.DataConfig) throws { try root.validate() }

    @Option(help: "Training corpus (default: data/text8.train.txt, else the bundled data/sample).") var train: String?
    @Option(help: "Validation corpus (default: the training file's name with 'train' → 'dev').") var valid: String?
    @Option(help: "Test corpus (default: the training file's name with 'train' → 'test').") var test: String?
    @Option(help: "Most frequent training words kept in the vocabulary (default \(ConfigDefaults.data.maxVocab)).") var vocabSize: Int?
    @Option(help: "Global batch size B: columns of the token stream, split over the ranks (default \(ConfigDefaults.data.batch)).") var batch: Int?
    @Option(help: "Window length of truncated BPTT (default \(ConfigDefaults.data.bptt)).") var bptt: Int?

    var bindings: [ConfigBinding<RunConfig.DataConfig>] {
        [.option("--train", train, \.train), .option("--valid", valid, \.valid), .option("--test", test, \.test),
         .option("--vocab-size", vocabSize, \.maxVocab), .option("--batch", batch, \.batch), .option("--bptt", bptt, \.bptt)]
    }


    /// The corpora of a new run: --train/--valid/--test, else text8 in data/, else the bundled sample.
    func resolved(note: (String) -> Void) throws -> RunConfig.DataConfig {
        var d: RunConfig.DataConfig
        if let t = train {
            guard FileManager.default.fileExists(atPath: t) else { throw DDPLMError("training corpus '\(t)' does not exist") }
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
