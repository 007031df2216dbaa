/// Sums an embedding table's gradient over the ranks by exchanging only the rows some rank touched: a
/// batch of B·T tokens touches at most B·T of V rows, the rest of the gradient is exactly zero. Every rank
/// marks the rows its backward touched (`TouchedRows`, from its tokens); summing the marks over the ranks
/// gives the union U on every rank; the U rows are packed, summed, and unpacked, and become touched rows
/// on every rank. Rows outside U stay zero, as the dense sum would leave them: the
/// result is exact. The rows are summed with the ring reduce-scatter + all-gather, so every rank ends
/// with the same bits.
///
/// The marks travel packed: a field of `fieldBits` bits per row, wide enough to count to N, and
/// 24 / `fieldBits` rows per float (12 on 2 and 3 ranks, 8 on 4–7). Each float holds an integer below
/// 2^24, so its sum over the ranks is exact in any order and no field carries into the next.
/// Moves ~8·V/(N·rows per float) + ~8·|U|·width bytes per rank instead of ~8·V·width.
/// The marks can travel on their own, as soon as the rows are marked (`exchangeMarks`, during the
/// forward when the model marks its tokens' rows first), and `sum` then moves only the rows.
/// Buffers are sized once; allocates nothing.
final class SparseRowExchange {
    /// The rows this rank's backward wrote (the store's `TouchedRows`): its marks, and afterwards the union.
    let touched: TouchedRows
    var rows: Int { touched.rows }
    let width: Int
    /// Bits per row mark (N < 2^fieldBits) and rows per float of `marks`.
    let fieldBits: Int
    let rowsPerFloat: Int
    /// The packed marks: one float per `rowsPerFloat` rows (`markFloats`), padded with zeros to N blocks
    /// of `markChunk` for the ring.
    private let marks: FloatBuffer
    let markFloats: Int
    private let markChunk: Int
    private let ranks: Int
    private let index: UnsafeMutablePointer<Int32>
    private let packed: FloatBuffer
    /// Rows in the union at the last exchange.
    private(set) var lastRows = 0
    /// This rank's marked rows when `exchangeMarks` ran this step (the union is in `index`), or nil.
    private var markedAtExchange: Int?

    init(touched: TouchedRows, width: Int, ranks: Int) {
        self.touched = touched
        let rows = touched.rows
        self.width = width
        fieldBits = Int.bitWidth - max(1, ranks).leadingZeroBitCount
        rowsPerFloat = max(1, 24 / fieldBits)
        markFloats = (rows + rowsPerFloat - 1) / rowsPerFloat
        markChunk = RingBlock.floats(markFloats, ranks: ranks)
        marks = FloatBuffer(count: markChunk * ranks)
        self.ranks = ranks
        index = .allocate(capacity: rows)
        packed = FloatBuffer(count: rows * width + 16 * ranks)
    }

    deinit { index.deallocate() }

    /// Floats the packed rows were padded to at the last exchange (what the ring moved, per rank count).
    private(set) var lastPackedFloats = 0

    /// After `sum`: the sum of squares of the summed gradient, from its union rows (still packed), the
    /// other rows being exactly zero: a pass over |U|·width floats instead of rows·width.
    func unionSumOfSquares() -> Double { lastRows == 0 ? 0 : GradClip.sumOfSquares(packed.ptr, count: lastRows * width) }

    /// `grads`: this rank's [rows, width] gradient, zero outside the rows `touched` marks; afterwards the
    /// sum over ranks, on every rank, and `touched` marks the union.
    /// `channel`: the communicator itself, or the overlapped exchange's channel (`OverlappedExchange`
    /// runs it on the exchange thread as soon as the table's gradient is final).
    func sum(_ grads: UnsafeMutablePointer<Float>, channel: ExchangeChannel) throws {
        if markedAtExchange == nil { try exchangeMarks(channel: channel) }
        // a check that stays in release builds (-Ounchecked drops preconditions): a row marked late would
        // miss the union, and the ranks' tables would drift apart silently
        guard touched.count == markedAtExchange else { fatalError("embedding rows were marked after their marks were exchanged") }
        markedAtExchange = nil
        let w = width, n = ranks, u = lastRows
        let floats = u * w
        let chunk = RingBlock.floats(floats, ranks: n)
        lastPackedFloats = chunk * n
        guard floats > 0 else { return }
        for k in 0..<u { (packed.ptr + k * w).update(from: grads + Int(index[k]) * w, count: w) }
        (packed.ptr + floats).update(repeating: 0, count: chunk * n - floats)
        try RingAllReduce.sumBlocks(packed.ptr, chunk: chunk, over: channel)
        for k in 0..<u {
            (grads + Int(index[k]) * w).update(from: packed.ptr + k * w, count: w)
            touched.mark(Int(index[k]))
        }
    }

    /// The first half of `sum`, callable on its own once every row this step's backward writes is marked:
    /// sums the marks over the ranks into the union (a collective over `channel`, like `sum`).
    func exchangeMarks(channel: ExchangeChannel) throws {
        guard markedAtExchange == nil else { fatalError("the marks were exchanged twice in one step") }
        let per = rowsPerFloat, bits = fieldBits
        for f in 0..<markFloats {
            var word = 0
            for k in 0..<min(per, rows - f * per) where touched.contains(f * per + k) { word |= 1 << (bits * k) }
            marks[f] = Float(word)  // below 2^24: exact
        }
        try RingAllReduce.sumBlocks(marks.ptr, chunk: markChunk, over: channel)  // the padding stays zero
        var u = 0
        let field = (1 << bits) - 1
        for f in 0..<markFloats {
            let word = Int(marks[f])
            for k in 0..<min(per, rows - f * per) where (word >> (bits * k)) & field != 0 {
                index[u] = Int32(f * per + k)
                u += 1
            }
        }
        lastRows = u
        markedAtExchange = touched.count
    }
}
