/// How a global batch of `batch` columns (or examples) is split over the ranks: rank r owns the
/// contiguous block [firstColumn, firstColumn + columns). The one place that requires N to divide B.
public struct BatchSplit: Sendable, Equatable {
    public let batch: Int
    public let columns: Int
    let firstColumn: Int

    public init(batch: Int, ranks: Int, rank: Int) throws {
        guard batch > 0 else { throw DDPLMError("--batch must be positive (got \(batch))") }
        guard batch % ranks == 0 else {
            throw DDPLMError("--batch \(batch) is the global batch and must be divisible by the number of ranks (\(ranks))")
        }
        self.batch = batch
        columns = batch / ranks
        firstColumn = rank * columns
    }

    public init(batch: Int, comm: Communicator) throws { try self.init(batch: batch, ranks: comm.size, rank: comm.rank) }
}
