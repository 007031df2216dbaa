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
        let chunk = ((count + size - 1) / size + 15) & ~15
        if padded.count < chunk * size { padded = FloatBuffer(count: chunk * size) }
        padded.ptr.update(from: buffer, count: count)
        (padded.ptr + count).update(repeating: 0, count: chunk * size - count)
        try comm.reduceScatterSum(padded.ptr, countPerRank: chunk)
        try comm.allGather(padded.ptr, countPerRank: chunk)
        buffer.update(from: padded.ptr, count: count)
    }
}
