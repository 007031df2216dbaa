import Foundation

/// The training loop's counters: everything besides tensors that `--resume` needs to continue
/// bit-exactly. Stored as JSON (sorted keys) in latest.safetensors' metadata.
public struct TrainerState: Codable, Equatable, Sendable {
    public var step = 0
    public var epoch = 0
    /// Batch index within the epoch (the language model's window).
    public var window = 0
    public var lr: Double
    /// Best scheduled validation loss: drives the learning-rate schedule.
    public var bestValLoss: Double?
    /// Loss of the weights in model.safetensors (also counts the end-of-run validation).
    public var bestSavedLoss: Double?
    public var bestSavedStep: Int?
    public var lastValidatedStep = -1
    public var adamStep = 0
    /// Items (tokens) trained on so far.
    public var tokens = 0
    /// Training seconds over every invocation.
    public var elapsed: Double = 0
    public var decays = 0
    public var ranks = 1
    /// Threads per rank the run used: a resume defaults to the same, so it stays bit-exact.
    public var threads: Int?

    public init(lr: Double) { self.lr = lr }

    func encoded() throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return String(decoding: try enc.encode(self), as: UTF8.self)
    }
}
