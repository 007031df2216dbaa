import ArgumentParser
import DDPLM

/// The model shape (fixed for a run).
struct ModelOptions: ConfigOptionGroup {
    static var defaults: ModelConfig { ConfigDefaults.model }
    static func check(_ root: ModelConfig) throws { try root.validateShape() }

    @Option(help: "Recurrent cell: lstm, gru or rnn_tanh (default \(ConfigDefaults.model.cell.rawValue)).") var cell: CellType?
    @Option(help: "Embedding size E (default \(ConfigDefaults.model.embedding)).") var emb: Int?
    @Option(help: "Hidden size H (default \(ConfigDefaults.model.hidden)).") var hidden: Int?
    @Option(help: "Recurrent layers (default \(ConfigDefaults.model.layers)).") var layers: Int?
    @Option(help: "Dropout on embeddings, between layers and before the decoder (default \(ConfigDefaults.model.dropout)).") var dropout: Float?
    @Flag(help: "Tie the decoder weight to the embedding (needs --emb == --hidden).") var tieWeights = false

    var bindings: [ConfigBinding<ModelConfig>] {
        [.option("--cell", cell, \.cell), .option("--emb", emb, \.embedding), .option("--hidden", hidden, \.hidden),
         .option("--layers", layers, \.layers), .option("--dropout", dropout, \.dropout), .flag("--tie-weights", tieWeights, \.tieWeights)]
    }
}
