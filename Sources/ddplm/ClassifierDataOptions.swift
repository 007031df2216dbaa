import ArgumentParser
import DDPLM
import Foundation

/// A classifier's corpora and batching (fixed for a run).
struct ClassifierDataOptions: ConfigOptionGroup {
    static var defaults: ClassifierRunConfig.DataConfig { ClassifierRunConfig.DataConfig(train: "") }
    static func check(_ root: ClassifierRunConfig.DataConfig) throws { try root.validate() }

    @Option(help: ArgumentHelp("Training documents: a label<TAB>text file, or a directory with one subdirectory of .txt files per label, like aclImdb/train (default: data/aclImdb/train, else the bundled synthetic sample data/classify-sample).", valueName: "FILE|DIR"))
    var train: String?
    @Option(help: ArgumentHelp("Validation documents (default: hold out --valid-fraction of --train, fixed seed).", valueName: "FILE|DIR")) var valid: String?
    @Option(help: ArgumentHelp("Test documents, evaluated with the best model at the end (default: the test directory next to a --train directory named train when it exists, data/aclImdb/test by default; data/classify-sample/test.tsv for the sample; else none).", valueName: "FILE|DIR")) var test: String?
    @Option(help: "Fraction of --train held out for validation when --valid is absent (default 0.3).") var validFraction: Double?
    @Option(help: "Most frequent training tokens kept in the vocabulary, besides <unk> and <pad> (default 25000).") var vocabSize: Int?
    @Option(help: "Global batch: documents per step, split over the ranks (default 64).") var batch: Int?
    @Option(help: "Keep the first N tokens of longer documents; 0 keeps all (default 500).") var maxTokens: Int?
    @Option(help: ArgumentHelp("Start the embedding from pretrained vectors in GloVe's text format, e.g. glove.6B.100d.txt (--emb must match).", valueName: "FILE")) var vectors: String?

    var bindings: [ConfigBinding<ClassifierRunConfig.DataConfig>] {
        [.option("--train", train, \.train), .option("--valid", valid, \.valid), .option("--test", test, \.test),
         .option("--valid-fraction", validFraction, \.validFraction), .option("--vocab-size", vocabSize, \.maxVocab),
         .option("--batch", batch, \.batch), .option("--max-tokens", maxTokens, \.maxTokens), .option("--vectors", vectors, \.vectors)]
    }

    static let sampleTrain = "data/classify-sample/train.tsv"
    static let sampleTest = "data/classify-sample/test.tsv"

    /// The data of a new run: --train (with aclImdb's test next to it), else data/aclImdb, else the sample.
    func resolved(note: (String) -> Void) throws -> ClassifierRunConfig.DataConfig {
        var d = ClassifierRunConfig.DataConfig(train: "")
        let fm = FileManager.default
        if let t = train {
            d.train = t
            let sibling = ((t as NSString).deletingLastPathComponent as NSString).appendingPathComponent("test")
            if (t as NSString).lastPathComponent == "train" && fm.fileExists(atPath: sibling) { d.test = sibling }
        } else if fm.fileExists(atPath: "data/aclImdb/train") {
            d.train = "data/aclImdb/train"
            d.test = "data/aclImdb/test"
        } else if fm.fileExists(atPath: Self.sampleTrain) {
            note("ddplm classify: data/aclImdb not found; training on the bundled synthetic sample in data/classify-sample (launch/get-imdb fetches IMDB)")
            d.train = Self.sampleTrain
            d.test = Self.sampleTest
        } else {
            throw DDPLMError("no training data: data/aclImdb/train does not exist; run launch/get-imdb, or pass --train FILE|DIR")
        }
        bindings.apply(to: &d)
        return d
    }
}
