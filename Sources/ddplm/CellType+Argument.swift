import ArgumentParser
import DDPLM

/// `--cell lstm|gru|rnn_tanh` (also `rnn`, `rnn-tanh`, `tanh`; any case).
extension CellType: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument.lowercased() {
        case "lstm": self = .lstm
        case "gru": self = .gru
        case "rnn", "rnn_tanh", "rnn-tanh", "tanh": self = .rnnTanh
        default: return nil
        }
    }
}
