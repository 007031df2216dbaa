/// One rank's share of a batch of documents, in the buffers the classifiers read: ids batch-major
/// ([columns, t], padded with `<pad>`), lengths, labels, and for the BiLSTM the number of documents still
/// running at each time step. Columns are sorted longest first (the order PyTorch packs sequences in).
/// Allocated once for (maxColumns, maxT); filling it allocates nothing.
final class DocumentBatch {
    let maxColumns: Int
    let maxT: Int
    let ids: UnsafeMutablePointer<Int32>
    let lengths: UnsafeMutablePointer<Int32>
    let labels: UnsafeMutablePointer<Int32>
    /// active[s] = documents with length > s (non-increasing in s, since columns are sorted).
    let active: UnsafeMutablePointer<Int32>
    private(set) var columns = 0
    /// Padded length: the longest document's length, and at least the model's minimum.
    private(set) var t = 0
    /// Global index (within the whole batch) of column 0: dropout masks are keyed by it.
    private(set) var firstColumn = 0
    /// Tokens (not padding) in this share.
    private(set) var tokens = 0

    init(maxColumns: Int, maxT: Int) {
        self.maxColumns = maxColumns
        self.maxT = maxT
        ids = .allocate(capacity: maxColumns * maxT)
        lengths = .allocate(capacity: maxColumns)
        labels = .allocate(capacity: maxColumns)
        active = .allocate(capacity: maxT)
    }

    deinit { ids.deallocate(); lengths.deallocate(); labels.deallocate(); active.deallocate() }

    /// Loads documents `order[0..<count]` of `docs` (already sorted longest first).
    func fill(_ docs: DocumentSet, order: UnsafePointer<Int32>, count: Int, firstColumn: Int, minLength: Int) {
        precondition(count <= maxColumns)
        columns = count
        self.firstColumn = firstColumn
        var longest = minLength
        tokens = 0
        for j in 0..<count {
            let n = docs.length(Int(order[j]))
            longest = max(longest, n)
            tokens += n
        }
        precondition(longest <= maxT, "document longer than the batch buffers")
        t = longest
        for j in 0..<count {
            let row = ids + j * t
            let n = docs.copy(Int(order[j]), to: row)
            (row + n).update(repeating: Int32(Vocabulary.pad), count: t - n)
            lengths[j] = Int32(n)
            labels[j] = docs.labels[Int(order[j])]
        }
        var j = count
        for s in 0..<t {
            while j > 0 && Int(lengths[j - 1]) <= s { j -= 1 }
            active[s] = Int32(j)
        }
    }
}
