/// The float all-reduce of every communicator: the buffer is copied into blocks padded to a multiple of
/// 16 floats per rank, reduce-scattered and all-gathered by the communicator's ring, and copied back. So
/// every rank gets the same bits, MPI ranks and in-process ranks sum each element in the same order, and
/// the hang watchdog can name a rank that stops (MPI_Iallreduce cannot say whom it waits for). The
/// padded copy is grown on first use, then reused.
public final class RingAllReduce {
    private var padded = FloatBuffer(count: 0)

    public init() {}

    public func sum(_ buffer: UnsafeMutablePointer<Float>, count: Int, over comm: Communicator) throws {
        let size = comm.size
        let chunk = RingBlock.floats(count, ranks: size)
        if padded.count < chunk * size { padded = FloatBuffer(count: chunk * size) }
        padded.ptr.update(from: buffer, count: count)
        (padded.ptr + count).update(repeating: 0, count: chunk * size - count)
        try RingAllReduce.sumBlocks(padded.ptr, chunk: chunk, over: comm)
        buffer.update(from: padded.ptr, count: count)
    }

    /// In place on the ranks' blocks of `chunk` floats (padded already, `RingBlock`): the ring
    /// reduce-scatter, then the all-gather, over `channel`, so every rank ends with the same sums. In parts
    /// of at most `maxExchangeSegmentBytes` of each block (each element summed as by the whole ring), so
    /// that no message is above the eager limit `cmpi_init` sets from it.
    static func sumBlocks(_ buffer: UnsafeMutablePointer<Float>, chunk: Int, over channel: ExchangeChannel) throws {
        let cap = maxExchangeSegmentBytes / MemoryLayout<Float>.size
        for part in stride(from: 0, to: chunk, by: cap) {
            try channel.reduceScatterSum(buffer + part, countPerRank: min(cap, chunk - part), stride: chunk)
        }
        for part in stride(from: 0, to: chunk, by: cap) {
            try channel.allGather(buffer + part, countPerRank: min(cap, chunk - part), stride: chunk)
        }
    }
}
