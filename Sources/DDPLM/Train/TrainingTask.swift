/// What the training loop needs from a task (`LanguageModelTask`, `ClassificationTask`): its
/// parameters, its batches, its evaluation, and whatever state it carries between batches. The loop owns
/// everything else: steps, epochs, validation, the learning-rate schedule, checkpoints, resume, signals,
/// progress and metrics.
protocol TrainingTask: AnyObject {
    /// The model's parameters, gradients and Adam moments, padded for the job's ranks.
    var store: ParameterStore { get }
    /// Global batches in one epoch.
    var batchesPerEpoch: Int { get }
    /// One line describing model and data, for the start of the log.
    var summary: String { get }
    /// Whether the loss is a per-token cross-entropy whose exp (perplexity) the progress lines show.
    var showsPerplexity: Bool { get }
    /// Items (tokens) in global batch `index` of `epoch`: the throughput and `tokens` counters.
    func items(inBatch index: Int, epoch: Int) -> Int
    /// Initial weights of a new run, deterministic in the seed.
    func initializeWeights()
    /// Forward and backward of this rank's share of global batch `index` of `epoch` at global step
    /// `step`: accumulates into `store.grads` a gradient whose sum over ranks is the gradient of the
    /// global batch's mean loss (scale each item's gradient by 1/(items in the global batch), the same
    /// float on every rank), and returns a loss whose mean over ranks is that mean loss (its own mean when
    /// every rank has an equal share). May report gradients to `ready` as they become
    /// final (see `ExchangeSchedule`). Allocates nothing.
    func computeGradients(batch index: Int, epoch: Int, step: Int, ready: ExchangeSchedule?) throws -> Double
    /// Forgets state carried between batches (at each epoch's end, and after a skipped step).
    func resetCarriedState()
    /// Whether there is a test split to evaluate the best model on at the end.
    var hasTestSplit: Bool { get }
    /// Mean loss (and accuracy, for a classifier) over the validation or test split, over all ranks (a
    /// collective).
    func evaluate(_ split: EvalSplit) throws -> Evaluation
    /// The carried state as checkpoint tensors, whole (a collective; rank 0's result is written).
    /// The tensors point into buffers the task keeps until the next call.
    func carriedStateTensors() throws -> [SafeTensors.Tensor]
    /// Restores this rank's carried state from a latest checkpoint written with any rank count.
    func restoreCarriedState(from file: SafeTensors, name: String) throws
    /// The weights have just become node-shared (`TrainingStep.shareWeights`): what the model shares
    /// with them (the language model's packed weights, `WeightPacks`). A collective.
    func weightsShared(comm: Communicator) throws
}

extension TrainingTask {
    func weightsShared(comm: Communicator) throws {}
}

/// What an evaluation of a split measured.
struct Evaluation: Equatable {
    /// Mean loss per item (token or document).
    var loss: Double
    /// Fraction classified right (classifiers only).
    var accuracy: Double?
}
