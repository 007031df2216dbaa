/// The three sentiment models of the lecture.
public enum ClassifierKind: String, Codable, CaseIterable, Sendable {
    /// Average of the embeddings of a document's tokens, then Linear → ReLU → Linear.
    case wordavg
    /// Multi-layer bidirectional LSTM over each document's own length (PyTorch's packed sequences);
    /// the last layer's final forward and backward states, concatenated, feed a Linear.
    case bilstm
    /// Conv1d filters of several widths over the embeddings, ReLU, max over time, concatenated, Linear.
    case cnn

    /// The module class in `launch/torch-classify.py` (config.json's `pytorch.class`).
    var torchClass: String {
        switch self {
        case .wordavg: return "WordAVG"
        case .bilstm: return "BiLSTM"
        case .cnn: return "CNN"
        }
    }
}

/// A classifier's shape. Fixed for the life of a run. Defaults are the lecture's (see `defaults`).
public struct ClassifierConfig: Codable, Equatable, Sendable {
    public var kind: ClassifierKind
    public var vocabSize: Int
    /// Number of labels; two labels make one output (binary cross-entropy), K > 2 make K (softmax).
    public var classes: Int
    public var embedding = 100
    /// WordAVG: the first Linear's width; BiLSTM: the hidden size per direction.
    public var hidden: Int
    /// BiLSTM layers.
    public var layers = 2
    /// BiLSTM: on the embeddings, between layers and on the final states; CNN: on the pooled features.
    public var dropout: Float
    /// CNN: filters per width, and the widths.
    public var filters = 100
    public var filterSizes = [3, 4, 5]

    public init(kind: ClassifierKind, vocabSize: Int, classes: Int) {
        self.kind = kind
        self.vocabSize = vocabSize
        self.classes = classes
        hidden = kind == .wordavg ? 100 : 256
        dropout = kind == .wordavg ? 0 : 0.5
    }

    /// Outputs of the last Linear.
    var outputs: Int { classes == 2 ? 1 : classes }
    /// Shortest padded length a document is given (the CNN's widest filter must fit once).
    var minLength: Int { kind == .cnn ? filterSizes.max() ?? 1 : 1 }

    public func validate() throws {
        try positive(embedding, "--emb")
        try positive(hidden, "--hidden")
        try positive(layers, "--layers")
        try positive(filters, "--filters")
        guard classes >= 2 else { throw DDPLMError("the training data has \(classes) label\(classes == 1 ? "" : "s"); a classifier needs at least 2") }
        guard vocabSize >= 2 else { throw DDPLMError("the vocabulary must hold at least <unk> and <pad>") }
        guard !filterSizes.isEmpty, filterSizes.allSatisfy({ $0 > 0 }) else {
            throw DDPLMError("--filter-sizes must be positive widths, e.g. 3,4,5 (got \(filterSizes))")
        }
        if !(dropout >= 0 && dropout < 1) { throw DDPLMError("--dropout must be in [0, 1) (got \(dropout))") }
    }
}
