/// Shape of the language model: Embedding(V, E) → `layers` × cell(H) → dropout → Linear(H, V).
public struct ModelConfig: Codable, Equatable, Sendable {
    var vocabSize: Int
    public var embedding: Int
    public var hidden: Int
    public var layers: Int
    public var cell: CellType
    public var dropout: Float
    public var tieWeights: Bool

    public init(vocabSize: Int, embedding: Int = 100, hidden: Int = 100, layers: Int = 1,
                cell: CellType = .lstm, dropout: Float = 0, tieWeights: Bool = false) {
        self.vocabSize = vocabSize
        self.embedding = embedding
        self.hidden = hidden
        self.layers = layers
        self.cell = cell
        self.dropout = dropout
        self.tieWeights = tieWeights
    }

    public func validate() throws {
        if vocabSize < 3 { throw DDPLMError("vocabulary size must be at least 3 (got \(vocabSize))") }
        try validateShape()
    }

    /// Everything but the vocabulary size (known only once the corpus is read).
    public func validateShape() throws {
        try positive(embedding, "--emb")
        try positive(hidden, "--hidden")
        try positive(layers, "--layers")
        if !(dropout >= 0 && dropout < 1) { throw DDPLMError("--dropout must be in [0, 1) (got \(dropout))") }
        if tieWeights && embedding != hidden {
            throw DDPLMError("--tie-weights needs --emb equal to --hidden (got \(embedding) and \(hidden))")
        }
    }

    func inputSize(layer k: Int) -> Int { k == 0 ? embedding : hidden }
}
