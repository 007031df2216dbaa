import Glibc

/// The largest message of the overlapped exchange (a segment of every rank's block). The MPI communicator
/// raises OpenMPI's TCP eager limit above it, so no segment is a rendezvous message.
public let maxExchangeSegmentBytes = 1 << 20

/// What the overlapped exchange (`OverlappedExchange`) calls from its own thread: the reduce-scatters and
/// the all-gather, over segments of the ranks' blocks.
public protocol ExchangeChannel: AnyObject {
    /// In place: block r is `countPerRank` floats at `buffer + r·stride` (stride ≥ countPerRank); afterwards
    /// this rank's block holds that block's sum over ranks, every element summed exactly as the whole-block
    /// call sums it (so a gradient can be reduced in segments as they become final). Other blocks are left
    /// undefined.
    func reduceScatterSum(_ buffer: UnsafeMutablePointer<Float>, countPerRank: Int, stride: Int) throws
    /// As `reduceScatterSum(_:countPerRank:stride:)` with the bf16 wire of `reduceScatterSumBF16`.
    func reduceScatterSumBF16(_ buffer: UnsafeMutablePointer<Float>, countPerRank: Int, stride: Int) throws
    /// Block r is `countPerRank` floats at `buffer + r·stride`; afterwards every rank has every rank's own block.
    func allGather(_ buffer: UnsafeMutablePointer<Float>, countPerRank: Int, stride: Int) throws
}

/// The trainer's only view of the other ranks. One process is rank 0 of 1 with no-op collectives
/// (`SingleProcessCommunicator`); under mpirun the executable supplies an MPI implementation.
public protocol Communicator: ExchangeChannel {
    var rank: Int { get }
    var size: Int { get }
    /// How many nodes the ranks span: groups of ranks that share memory (MPI_COMM_TYPE_SHARED). One
    /// process and in-process ranks are one node. `ExchangeOverlap.auto` decides by it.
    var nodes: Int { get }
    /// In-place element-wise sum over all ranks (every rank gets the result).
    func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws
    func allReduceSum(_ buffer: UnsafeMutablePointer<Double>, count: Int) throws
    /// Copies `bytes` bytes from `root`'s buffer into everyone's.
    func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws
    /// A second channel over the same ranks, made collectively (every rank calls it once): its
    /// reduce-scatters may run on another thread while this communicator's collectives run on the
    /// calling one, and never match them. nil when that is not possible (one rank; an MPI without
    /// MPI_THREAD_MULTIPLE): the exchange then runs after the compute.
    func makeExchangeChannel() -> ExchangeChannel?
    func barrier() throws
    /// Memory that every rank of the job maps: `bytes` bytes, zeroed, 64-byte aligned, at the same
    /// offsets on every rank, kept for the life of the process (`NodeSharedWeights`). A collective. nil
    /// on one rank, when the ranks span more than one node, or when some rank cannot have it (then nil
    /// on every rank).
    func allocateNodeShared(bytes: Int) throws -> UnsafeMutableRawPointer?
    /// Ends the whole job with `code` (MPI_Abort under mpirun, exit otherwise).
    func abort(code: Int32) -> Never
}

public extension Communicator {
    var isRoot: Bool { rank == 0 }

    func allocateNodeShared(bytes: Int) throws -> UnsafeMutableRawPointer? { nil }

    /// In place: `buffer` holds size·countPerRank floats; afterwards this rank's block (starting at
    /// rank·countPerRank) holds that block's sum over ranks. Other blocks are left undefined.
    func reduceScatterSum(_ buffer: UnsafeMutablePointer<Float>, countPerRank: Int) throws {
        try reduceScatterSum(buffer, countPerRank: countPerRank, stride: countPerRank)
    }

    /// `buffer` holds size·countPerRank floats; afterwards every rank has every rank's own block.
    func allGather(_ buffer: UnsafeMutablePointer<Float>, countPerRank: Int) throws {
        try allGather(buffer, countPerRank: countPerRank, stride: countPerRank)
    }

    /// As `reduceScatterSum`, with a bfloat16 wire (`GradientWire.bf16`): as in a ring, block b's partial
    /// sum starts as rank b+1's part and travels through ranks b+2, …, b (mod size), rounded to bf16 before
    /// each hop and added in fp32 on arrival; the result on rank b is exactly what that ring computes.
    func reduceScatterSumBF16(_ buffer: UnsafeMutablePointer<Float>, countPerRank: Int) throws {
        try reduceScatterSumBF16(buffer, countPerRank: countPerRank, stride: countPerRank)
    }

    /// Sums a few Doubles across ranks.
    func allReduceSum(_ values: [Double]) throws -> [Double] {
        var v = values
        try v.withUnsafeMutableBufferPointer { try allReduceSum($0.baseAddress!, count: $0.count) }
        return v
    }

    /// Rank 0's value of a few Doubles, everywhere.
    func broadcast(_ values: [Double], root: Int = 0) throws -> [Double] {
        var v = values
        try v.withUnsafeMutableBytes { try broadcast($0.baseAddress!, bytes: $0.count, root: root) }
        return v
    }

    /// Checks that every rank holds the same 64-bit fingerprint; throws naming `what` if not.
    /// The hash is split into four 16-bit limbs (exact in Double): equal sums of values and of squares
    /// to size·x and size·x² mean every rank had x.
    func verifySame(_ hash: UInt64, what: String) throws {
        if size == 1 { return }
        var v = [Double](repeating: 0, count: 8)
        for i in 0..<4 {
            let limb = Double((hash >> (16 * UInt64(i))) & 0xffff)
            v[i] = limb
            v[4 + i] = limb * limb
        }
        let s = try allReduceSum(v)
        let n = Double(size)
        for i in 0..<4 where s[i] != n * v[i] || s[4 + i] != n * v[4 + i] {
            throw DDPLMError("ranks disagree on \(what) (rank \(rank) has fingerprint \(String(hash, radix: 16)))")
        }
    }
}
