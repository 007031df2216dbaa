/// How a model's training step interleaves with the data-parallel exchange (`OverlappedExchange`), the
/// way PyTorch DDP's bucket hooks and FSDP's prefetch do: the forward waits only for the weights it is
/// about to read (the previous step's all-gather may still be arriving), and the backward reports which
/// gradient floats are final, so their reduce-scatter can start while the rest of the backward runs.
///
/// Both are optional and only move the exchange: whatever is never reported is exchanged when the
/// compute ends. Reporting a range that is still written to later in the step would be wrong
/// (`OverlappedExchange.verifyFinality` catches that in tests); reading a range without awaiting it
/// would read another rank's previous weights.
protocol ExchangeSchedule: AnyObject {
    /// Blocks until the weights `range` (flat store offsets) of this step have arrived.
    func awaitParameters(_ range: Range<Int>)
    /// Gradient floats `range` (flat store offsets) will not change again this step.
    func gradientsFinal(_ range: Range<Int>)
    /// Every row of the replicated embedding table that this step's backward will write is marked
    /// (`ParameterStore.touched`, from the batch's token ids): the rows' marks can travel now, long before
    /// the table's gradient is final. Marking a row after this fails the exchange's check.
    func rowsMarked()
    /// The order in which to finish the rows of a [rows, width] tensor at store offset `offset` so that
    /// whole exchange segments become final soonest: row ranges covering 0..<rows once, each to be
    /// reported (`gradientsFinal`) as soon as it is done. Reversed, it is the order in which the rows'
    /// weights arrive. Fixed for the run; callers cache it.
    func rowOrder(offset: Int, rows: Int, width: Int) -> [Range<Int>]
}
