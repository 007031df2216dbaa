/// The rows of a sparse-row table's gradient (`ParameterLayout.sparseRows`) that hold anything this
/// step: the embedding's backward marks its tokens' rows (`mark`), the sparse exchange adds the rows
/// other ranks touched (it writes their sums there), and `ParameterStore.zeroGradients` zeroes only
/// these rows and clears the marks (or only clears them, after an update that zeroed the table). So neither the exchange nor the zeroing reads the dense rows × width
/// table (26 MB at V 10,000, E 650): they touch the batch's rows only. Allocates nothing after `init`.
final class TouchedRows {
    let rows: Int
    private let flags: UnsafeMutablePointer<Bool>
    private let list: UnsafeMutablePointer<Int32>
    /// Rows marked since the last `zero`.
    private(set) var count = 0

    init(rows: Int) {
        self.rows = rows
        flags = .allocate(capacity: rows)
        flags.initialize(repeating: false, count: rows)
        list = .allocate(capacity: rows)
    }

    deinit {
        flags.deallocate()
        list.deallocate()
    }

    @inline(__always) func mark(_ row: Int) {
        precondition(row >= 0 && row < rows, "row \(row) outside the table's \(rows)")
        if flags[row] { return }
        flags[row] = true
        list[count] = Int32(row)
        count += 1
    }

    func mark(_ ids: UnsafePointer<Int32>, count n: Int) {
        for i in 0..<n { mark(Int(ids[i])) }
    }

    @inline(__always) func contains(_ row: Int) -> Bool { flags[row] }

    /// Zeroes the marked rows of `table` ([rows, width]) and clears the marks.
    func zero(_ table: UnsafeMutablePointer<Float>, width: Int) {
        for i in 0..<count { (table + Int(list[i]) * width).update(repeating: 0, count: width) }
        clear()
    }

    /// Clears the marks (the rows are zero already: Adam zeroed the whole table as it read it).
    func clear() {
        for i in 0..<count { flags[Int(list[i])] = false }
        count = 0
    }
}
