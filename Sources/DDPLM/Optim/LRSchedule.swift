/// Halve on plateau (the lecture's rule): after each scheduled validation, a loss below the best so far
/// becomes the new best; any other multiplies the learning rate by `factor`. Its state (lr, best,
/// decays) lives in `TrainerState`, so it is checkpointed with the other counters.
struct LRSchedule: Sendable {
    let factor: Double

    init(factor: Double) { self.factor = factor }

    /// Applies one validation result; returns true when it improved on the best.
    func observe(validationLoss v: Double, state: inout TrainerState) -> Bool {
        if state.bestValLoss.map({ v < $0 }) ?? true {
            state.bestValLoss = v
            return true
        }
        state.lr *= factor
        state.decays += 1
        return false
    }
}
