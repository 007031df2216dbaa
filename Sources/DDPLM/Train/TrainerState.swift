import Foundation

/// The training loop's counters: everything besides tensors that `--resume` needs to continue
/// bit-exactly. Stored as JSON (sorted keys) in latest.safetensors' metadata.
public struct TrainerState: Codable, Equatable, Sendable {
    var step = 0
    var epoch = 0
    /// Batch index within the epoch (the language model's window).
    var window = 0
    var lr: Double
    /// Best scheduled validation loss: drives the learning-rate schedule.
    var bestValLoss: Double?
    /// Loss of the weights in model.safetensors (also counts the end-of-run validation).
    var bestSavedLoss: Double?
    var bestSavedStep: Int?
    var lastValidatedStep = -1
    var adamStep = 0
    /// Items (tokens) trained on so far.
    var tokens = 0
    /// Training seconds over every invocation.
    var elapsed: Double = 0
    var decays = 0
    var ranks = 1
    /// Threads per rank the run used: a resume defaults to the same, so it stays bit-exact.
    public var threads: Int?

    init(lr: Double) { self.lr = lr }

    func encoded() throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return String(decoding: try enc.encode(self), as: UTF8.self)
    }
}
