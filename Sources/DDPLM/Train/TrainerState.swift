import Foundation

/// The training loop's counters: everything besides tensors that `--resume` needs to continue
/// bit-exactly. Stored as JSON (sorted keys) in latest.safetensors' metadata.
public struct TrainerState: Codable, Equatable, Sendable {
    /// Fingerprint of the run's fixed settings: a checkpoint only resumes the run that wrote it.
    public var runIdentity: String
    public var step = 0
    public var epoch = 0
    /// Batch index within the epoch (the language model's window).
    public var window = 0
    /// Learning rate, best scheduled validation loss, decays.
    public var schedule: LRSchedule
    /// Adam updates applied (skipped non-finite steps do not count): Adam's bias-correction step.
    public var adamStep = 0
    /// Loss of the weights in model.safetensors (also counts the end-of-run validation), and its step.
    public var bestSavedLoss: Double?
    public var bestSavedStep: Int?
    public var lastValidatedStep = -1
    /// Items (tokens) trained on so far.
    public var tokens = 0
    /// Training seconds over every invocation.
    public var elapsed: Double = 0
    public var ranks = 1
    /// Threads per rank the run used: a resume defaults to the same, so it stays bit-exact.
    public var threads: Int?
    /// The matrix products' precision (`MatmulPrecision`; nil in checkpoints from before it existed:
    /// highest). A resume defaults to the same.
    public var matmulPrecision: String?
    /// The kernel the bf16 products ran on in `medium` (`BF16Kernel`'s raw value; nil in highest): a
    /// resume on another kernel says so.
    public var matmulKernel: String?

    public init(runIdentity: String, schedule: LRSchedule) {
        self.runIdentity = runIdentity
        self.schedule = schedule
    }

    public var lr: Double { schedule.lr }

    func encoded() throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return String(decoding: try enc.encode(self), as: UTF8.self)
    }
}
