import ArgumentParser
import DDPLM

extension ClassifierKind: ExpressibleByArgument {}

/// The classifier's shape (fixed for a run). --model picks the lecture's model and its default sizes.
struct ClassifierModelOptions: ConfigOptionGroup {
    static var defaults: ClassifierConfig { ClassifierConfig(kind: .bilstm, vocabSize: 2, classes: 2) }
    static func check(_ root: ClassifierConfig) throws { try root.validate() }

    @Option(help: "The model (default bilstm).") var model: ClassifierKind?
    @Option(help: "Embedding size (default 100, GloVe 6B 100d's).") var emb: Int?
    @Option(help: "WordAVG: width of its first Linear (default 100); BiLSTM: hidden units per direction (default 256).") var hidden: Int?
    @Option(help: "BiLSTM layers (default 2).") var layers: Int?
    @Option(help: "Dropout: BiLSTM on embeddings, between layers and on the final states; CNN on the pooled features (default 0.5; WordAVG 0).") var dropout: Float?
    @Option(help: "CNN filters per width (default 100).") var filters: Int?
    @Option(help: ArgumentHelp("CNN filter widths, comma-separated (default 3,4,5).", valueName: "w,w,…")) var filterSizes: String?

    var widths: [Int]? { filterSizes.map { $0.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) ?? 0 } } }

    var bindings: [ConfigBinding<ClassifierConfig>] {
        [.option("--model", model, \.kind), .option("--emb", emb, \.embedding), .option("--hidden", hidden, \.hidden),
         .option("--layers", layers, \.layers), .option("--dropout", dropout, \.dropout), .option("--filters", filters, \.filters),
         .option("--filter-sizes", widths, \.filterSizes)]
    }

    /// The chosen model with its own defaults, then the given sizes.
    func config(vocabSize: Int, classes: Int) -> ClassifierConfig {
        var c = ClassifierConfig(kind: model ?? .bilstm, vocabSize: vocabSize, classes: classes)
        bindings.apply(to: &c)
        return c
    }

    func validate() throws {
        var c = config(vocabSize: 2, classes: 2)
        c.vocabSize = 2
        try c.validate()
    }
}
