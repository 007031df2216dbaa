/// The recurrent cell, with PyTorch's gate layout: LSTM (i, f, g, o), GRU (r, z, n), RNN with tanh.
public enum CellType: String, Codable, CaseIterable, Sendable {
    case lstm
    case gru
    case rnnTanh = "rnn_tanh"

    /// Gate blocks per hidden unit in the weight matrices (rows = gates · H).
    var gates: Int {
        switch self {
        case .lstm: return 4
        case .gru: return 3
        case .rnnTanh: return 1
        }
    }

    /// The name of the matching `torch.nn` module / `rnn_type` in PyTorch's word_language_model.
    var torchName: String {
        switch self {
        case .lstm: return "LSTM"
        case .gru: return "GRU"
        case .rnnTanh: return "RNN_TANH"
        }
    }
}
