/// Halve on plateau (the lecture's rule): after each scheduled validation, a loss below the best so far
/// becomes the new best; any other multiplies the learning rate by `factor`. A value type holding its
/// own state, checkpointed with the trainer's counters.
public struct LRSchedule: Codable, Equatable, Sendable {
    public let factor: Double
    public private(set) var lr: Double
    /// Best scheduled validation loss so far.
    public private(set) var best: Double?
    public private(set) var decays = 0

    public init(lr: Double, factor: Double) {
        self.lr = lr
        self.factor = factor
    }

    /// Applies one validation result; returns true when it improved on the best.
    public mutating func observe(validationLoss v: Double) -> Bool {
        if best.map({ v < $0 }) ?? true {
            best = v
            return true
        }
        lr *= factor
        decays += 1
        return false
    }
}
