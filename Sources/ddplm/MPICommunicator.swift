import CMPI
import DDPLM
import Foundation

/// The one Swift file that knows MPI. Every call's return code is checked and turned into an error that
/// names the call and the rank.
final class MPICommunicator: Communicator {
    let rank: Int
    let size: Int
    private var finalized = false
    /// The rings on MPI_COMM_WORLD.
    private let ring: MPIRing
    /// The float all-reduce, over the rings.
    private let allReduce = RingAllReduce()

    let hangTimeout: Double

    /// `hangTimeout` seconds without progress in a collective end it with `CollectiveTimeout` (0 = never).
    init(hangTimeout: Double) throws {
        self.hangTimeout = hangTimeout
        var rc = cmpi_init(maxExchangeSegmentBytes)
        if rc != 0 { throw DDPLMError("MPI_Init_thread failed: \(MPICommunicator.message(rc))") }
        var r: Int32 = 0, s: Int32 = 0
        rc = cmpi_rank(&r)
        if rc != 0 { throw DDPLMError("MPI_Comm_rank failed: \(MPICommunicator.message(rc))") }
        rc = cmpi_size(&s)
        if rc != 0 { throw DDPLMError("MPI_Comm_size failed: \(MPICommunicator.message(rc))") }
        rank = Int(r)
        size = Int(s)
        ring = MPIRing(channel: 0, rank: rank, hangTimeout: hangTimeout)
        cmpi_set_timeout(hangTimeout)
    }

    /// The MPI library this binary runs on ("Open MPI v4.1.4, …", "MPICH Version: 4.0.2").
    static var libraryVersion: String {
        var buf = [CChar](repeating: 0, count: 512)
        cmpi_library_version(&buf, Int32(buf.count))
        return String(cString: buf).replacingOccurrences(of: "\t", with: " ").trimmingCharacters(in: .whitespaces)
    }

    static func message(_ rc: Int32) -> String {
        var buf = [CChar](repeating: 0, count: 512)
        cmpi_error_string(rc, &buf, Int32(buf.count))
        return String(cString: buf)
    }

    private func check(_ rc: Int32, _ call: String, _ operation: String) throws {
        try MPICommunicator.check(rc, call, operation, rank: rank, hangTimeout: hangTimeout)
    }

    /// Turns a shim return code into `CollectiveTimeout` (naming the ranks waited for) or an error naming
    /// the call and the rank.
    static func check(_ rc: Int32, _ call: String, _ operation: String, rank: Int, hangTimeout: Double) throws {
        if rc == CMPI_TIMEOUT {
            let detail = String(cString: cmpi_timeout_detail())
            let ranks = detail.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            throw CollectiveTimeout(seconds: hangTimeout, operation: operation, waitingFor: ranks.isEmpty ? nil : ranks)
        }
        if rc != 0 { throw DDPLMError("\(call) failed on rank \(rank): \(MPICommunicator.message(rc))") }
    }

    /// The ring reduce-scatter and all-gather on a block-padded copy (`RingAllReduce`).
    func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {
        try allReduce.sum(buffer, count: count, over: self)
    }

    func allReduceSum(_ buffer: UnsafeMutablePointer<Double>, count: Int) throws {
        try check(cmpi_allreduce_sum_double(buffer, count), "all-reduce (double, gathered on rank 0)", "a small all-reduce (the step's loss and stop flags, a norm, or an evaluation)")
    }

    func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws {
        try check(cmpi_bcast_bytes(buffer, bytes, Int32(root)), "MPI_Ibcast", "a broadcast from rank \(root)")
    }

    /// Ring reduce-scatter (see cmpi.h); its scratch is allocated once, on first use.
    func reduceScatterSum(_ buffer: UnsafeMutablePointer<Float>, countPerRank: Int, stride: Int) throws {
        try ring.reduceScatterSum(buffer, countPerRank: countPerRank, stride: stride)
    }

    /// The same ring with a bf16 wire.
    func reduceScatterSumBF16(_ buffer: UnsafeMutablePointer<Float>, countPerRank: Int, stride: Int) throws {
        try ring.reduceScatterSumBF16(buffer, countPerRank: countPerRank, stride: stride)
    }

    func allGather(_ buffer: UnsafeMutablePointer<Float>, countPerRank: Int, stride: Int) throws {
        try ring.allGather(buffer, countPerRank: countPerRank, stride: stride)
    }

    var nodes: Int { Int(cmpi_nodes()) }

    /// MPI granted MPI_THREAD_MULTIPLE: the exchange can run on its own thread (`makeExchangeChannel`).
    var overlapAvailable: Bool { cmpi_overlap_available() != 0 }

    func makeExchangeChannel() -> ExchangeChannel? {
        overlapAvailable ? MPIRing(channel: 1, rank: rank, hangTimeout: hangTimeout) : nil
    }

    func barrier() throws { try check(cmpi_barrier(), "the barrier's MPI_Isend/MPI_Irecv", "a barrier") }

    /// nil also when the shared memory's file system has no room for `bytes` (a container's 64 MB /dev/shm):
    /// then rank 0 says so, once.
    func allocateNodeShared(bytes: Int) throws -> UnsafeMutableRawPointer? {
        var p: UnsafeMutableRawPointer?
        var available = -1
        try check(cmpi_shared_alloc(bytes, &p, &available), "MPI_Win_allocate_shared", "allocating node-shared memory")
        if p == nil, available >= 0, rank == 0, !warnedNoRoom {
            warnedNoRoom = true
            Runtime.note("node-shared memory has \(Format.fixed(Double(available) / 1e6, 1)) MB free where \(Format.fixed(Double(bytes + Int(CMPI_SHARED_HEADROOM)) / 1e6, 1)) MB are needed (/dev/shm; a container's is often 64 MB, docker run --shm-size): what does not fit stays a copy per rank (--shared-weights)")
        }
        return p
    }
    private var warnedNoRoom = false

    func abort(code: Int32) -> Never {
        cmpi_abort(code)
        exit(code)
    }

    func finalize() {
        if !finalized { finalized = true; _ = cmpi_finalize() }
    }
}

/// The ring reduce-scatter's receive buffers, grown on first use and then reused.
final class RingScratch {
    private var floatBuffer = FloatBuffer(count: 0)
    private var halfBuffer: UnsafeMutablePointer<UInt16>?
    private var halfCount = 0

    func floats(_ n: Int) -> UnsafeMutablePointer<Float> {
        if floatBuffer.count < n { floatBuffer = FloatBuffer(count: n) }
        return floatBuffer.ptr
    }

    func halves(_ n: Int) -> UnsafeMutablePointer<UInt16> {
        if halfCount < n {
            halfBuffer?.deallocate()
            halfBuffer = .allocate(capacity: n)
            halfCount = n
        }
        return halfBuffer!
    }

    deinit { halfBuffer?.deallocate() }
}

/// The shim's ring reduce-scatters and all-gather on one channel: 0 is MPI_COMM_WORLD (the
/// communicator's own), 1 its duplicate, which the exchange thread uses while the main thread computes.
/// Channel 1's waits nap between polls, so the thread leaves the core to the compute.
final class MPIRing: ExchangeChannel {
    let channel: Int32
    let rank: Int
    let hangTimeout: Double
    private let scratch = RingScratch()
    private let who: String
    /// What this channel's rings carry, for a timeout's message: the exchange thread's only the gradients
    /// and weights; the main channel's also the Adam moments and the vocab-parallel decoder's collectives.
    private let reduced: String
    private let gathered: String

    init(channel: Int32, rank: Int, hangTimeout: Double) {
        self.channel = channel
        self.rank = rank
        self.hangTimeout = hangTimeout
        who = channel == 0 ? "" : ", exchange thread"
        reduced = channel == 0 ? "the gradient reduce-scatter (or the vocab-parallel decoder's dh)" : "the gradient reduce-scatter"
        gathered = channel == 0 ? "an all-gather (weights, Adam moments, or the vocab-parallel decoder's inputs)" : "the weight all-gather"
    }

    func reduceScatterSum(_ buffer: UnsafeMutablePointer<Float>, countPerRank: Int, stride: Int) throws {
        try MPICommunicator.check(cmpi_ring_reduce_scatter_float(buffer, countPerRank, stride, scratch.floats(countPerRank), channel),
                                  "ring reduce-scatter (MPI_Isend/Irecv\(who))", reduced, rank: rank, hangTimeout: hangTimeout)
    }

    func reduceScatterSumBF16(_ buffer: UnsafeMutablePointer<Float>, countPerRank: Int, stride: Int) throws {
        try MPICommunicator.check(cmpi_ring_reduce_scatter_bf16(buffer, countPerRank, stride, scratch.halves(2 * countPerRank), channel),
                                  "ring reduce-scatter, bf16 wire (MPI_Isend/Irecv\(who))", reduced, rank: rank, hangTimeout: hangTimeout)
    }

    func allGather(_ buffer: UnsafeMutablePointer<Float>, countPerRank: Int, stride: Int) throws {
        try MPICommunicator.check(cmpi_ring_allgather_float(buffer, countPerRank, stride, channel),
                                  "ring all-gather (MPI_Isend/Irecv\(who))", gathered, rank: rank, hangTimeout: hangTimeout)
    }
}
