import CMPI
import DDPLM
import Foundation

/// The one Swift file that knows MPI. Every call's return code is checked and turned into an error that
/// names the call and the rank.
final class MPICommunicator: Communicator {
    let rank: Int
    let size: Int
    private var finalized = false
    private var scratch = FloatBuffer(count: 0)

    init() throws {
        var rc = cmpi_init()
        if rc != 0 { throw DDPLMError("MPI_Init_thread failed: \(MPICommunicator.message(rc))") }
        var r: Int32 = 0, s: Int32 = 0
        rc = cmpi_rank(&r)
        if rc != 0 { throw DDPLMError("MPI_Comm_rank failed: \(MPICommunicator.message(rc))") }
        rc = cmpi_size(&s)
        if rc != 0 { throw DDPLMError("MPI_Comm_size failed: \(MPICommunicator.message(rc))") }
        rank = Int(r)
        size = Int(s)
    }

    static func message(_ rc: Int32) -> String {
        var buf = [CChar](repeating: 0, count: 512)
        cmpi_error_string(rc, &buf, Int32(buf.count))
        return String(cString: buf)
    }

    private func check(_ rc: Int32, _ call: String) throws {
        if rc != 0 { throw DDPLMError("\(call) failed on rank \(rank): \(MPICommunicator.message(rc))") }
    }

    func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {
        try check(cmpi_allreduce_sum_float(buffer, count), "MPI_Allreduce(float, sum)")
    }

    func allReduceSum(_ buffer: UnsafeMutablePointer<Double>, count: Int) throws {
        try check(cmpi_allreduce_sum_double(buffer, count), "MPI_Allreduce(double, sum)")
    }

    func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws {
        try check(cmpi_bcast_bytes(buffer, bytes, Int32(root)), "MPI_Bcast")
    }

    /// Ring reduce-scatter (see cmpi.h); its block-sized scratch buffer is allocated once.
    func reduceScatterSum(_ buffer: UnsafeMutablePointer<Float>, countPerRank: Int) throws {
        if scratch.count < countPerRank { scratch = FloatBuffer(count: countPerRank) }
        try check(cmpi_ring_reduce_scatter_float(buffer, countPerRank, scratch.ptr), "ring reduce-scatter (MPI_Sendrecv)")
    }

    func allGather(_ buffer: UnsafeMutablePointer<Float>, countPerRank: Int) throws {
        try check(cmpi_allgather_float(buffer, countPerRank), "MPI_Allgather(float)")
    }

    func barrier() throws { try check(cmpi_barrier(), "MPI_Barrier") }

    func abort(code: Int32) -> Never {
        cmpi_abort(code)
        exit(code)
    }

    func finalize() {
        if !finalized { finalized = true; _ = cmpi_finalize() }
    }
}
