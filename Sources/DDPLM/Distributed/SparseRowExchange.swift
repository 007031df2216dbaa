/// Sums an embedding table's gradient over the ranks by exchanging only the rows some rank touched: a
/// batch of B·T tokens touches at most B·T of V rows, the rest of the gradient is exactly zero. Every rank
/// marks its nonzero rows; summing the V marks over the ranks gives the union U on every rank; the U rows
/// are packed, summed, and unpacked. Rows outside U stay zero, as the dense sum would leave them: the
/// result is exact. The rows are summed with the ring reduce-scatter + all-gather, so every rank ends
/// with the same bits. Moves ~8·V/N + ~8·|U|·width bytes per rank
/// instead of ~8·V·width. Buffers are sized once; allocates nothing.
final class SparseRowExchange {
    let rows: Int
    let width: Int
    private let marks: FloatBuffer
    private let index: UnsafeMutablePointer<Int32>
    private let packed: FloatBuffer
    /// Rows in the union at the last exchange.
    private(set) var lastRows = 0

    init(rows: Int, width: Int, ranks: Int) {
        self.rows = rows
        self.width = width
        marks = FloatBuffer(count: rows)
        index = .allocate(capacity: rows)
        packed = FloatBuffer(count: rows * width + 16 * ranks)
    }

    deinit { index.deallocate() }

    /// Floats the packed rows were padded to at the last exchange (what the ring moved, per rank count).
    private(set) var lastPackedFloats = 0

    /// `grads`: this rank's [rows, width] gradient; afterwards the sum over ranks, on every rank.
    func sum(_ grads: UnsafeMutablePointer<Float>, comm: Communicator) throws {
        let w = width, n = comm.size
        for r in 0..<rows {
            let row = grads + r * w
            var touched = false
            for k in 0..<w where row[k] != 0 || row[k].isNaN { touched = true; break }
            marks[r] = touched ? 1 : 0
        }
        try comm.allReduceSum(marks.ptr, count: rows)
        var u = 0
        for r in 0..<rows where marks[r] > 0 {
            index[u] = Int32(r)
            u += 1
        }
        lastRows = u
        let floats = u * w
        let chunk = ((floats + n - 1) / n + 15) & ~15
        lastPackedFloats = chunk * n
        guard floats > 0 else { return }
        for k in 0..<u { (packed.ptr + k * w).update(from: grads + Int(index[k]) * w, count: w) }
        (packed.ptr + floats).update(repeating: 0, count: chunk * n - floats)
        try comm.reduceScatterSum(packed.ptr, countPerRank: chunk)
        try comm.allGather(packed.ptr, countPerRank: chunk)
        for k in 0..<u { (grads + Int(index[k]) * w).update(from: packed.ptr + k * w, count: w) }
    }
}
