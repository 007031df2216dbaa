/// The recurrent cell, with PyTorch's gate layout: LSTM (i, f, g, o), GRU (r, z, n), RNN with tanh.
public enum CellType: String, Codable, CaseIterable, Sendable {
    case lstm
    case gru
    case rnnTanh = "rnn_tanh"

    /// Gate blocks per hidden unit in the weight matrices (rows = gates · H).
    public var gates: Int {
        switch self {
        case .lstm: return 4
        case .gru: return 3
        case .rnnTanh: return 1
        }
    }

    /// The name of the matching `torch.nn` module / `rnn_type` in PyTorch's word_language_model.
    public var torchName: String {
        switch self {
        case .lstm: return "LSTM"
        case .gru: return "GRU"
        case .rnnTanh: return "RNN_TANH"
        }
    }

    public init?(argument: String) {
        switch argument.lowercased() {
        case "lstm": self = .lstm
        case "gru": self = .gru
        case "rnn", "rnn_tanh", "rnn-tanh", "tanh": self = .rnnTanh
        default: return nil
        }
    }
}

/// Shape of the language model: Embedding(V, E) → `layers` × cell(H) → dropout → Linear(H, V).
public struct ModelConfig: Codable, Equatable, Sendable {
    public var vocabSize: Int
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
        if embedding <= 0 { throw DDPLMError("--emb must be positive (got \(embedding))") }
        if hidden <= 0 { throw DDPLMError("--hidden must be positive (got \(hidden))") }
        if layers <= 0 { throw DDPLMError("--layers must be positive (got \(layers))") }
        if !(dropout >= 0 && dropout < 1) { throw DDPLMError("--dropout must be in [0, 1) (got \(dropout))") }
        if tieWeights && embedding != hidden {
            throw DDPLMError("--tie-weights needs --emb equal to --hidden (got \(embedding) and \(hidden))")
        }
    }

    public func inputSize(layer k: Int) -> Int { k == 0 ? embedding : hidden }
}
