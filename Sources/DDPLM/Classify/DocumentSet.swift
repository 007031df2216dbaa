/// Tokenised, encoded documents of one split: every document's token ids back to back, where each one
/// starts, and its class index. Documents keep at least one token (an empty one is a single `<unk>`).
public struct DocumentSet: Sendable {
    private(set) var ids: [Int32] = []
    /// Document i is ids[starts[i] ..< starts[i + 1]].
    private(set) var starts: [Int] = [0]
    private(set) var labels: [Int32] = []

    public var count: Int { labels.count }
    public var tokens: Int { ids.count }

    @inline(__always) func length(_ i: Int) -> Int { starts[i + 1] - starts[i] }

    mutating func append(_ doc: [Int32], label: Int32) {
        ids += doc.isEmpty ? [Int32(Vocabulary.unk)] : doc
        starts.append(ids.count)
        labels.append(label)
    }

    /// Copies document i's ids to `out` (at most `maxLength` of them); returns how many.
    @inline(__always)
    func copy(_ i: Int, to out: UnsafeMutablePointer<Int32>) -> Int {
        let n = length(i)
        ids.withUnsafeBufferPointer { out.update(from: $0.baseAddress! + starts[i], count: n) }
        return n
    }

    /// The documents `indices`, longest first (ties by index): the order a batch is laid out in.
    func longestFirst<S: Sequence>(_ indices: S) -> [Int32] where S.Element == Int32 {
        indices.sorted { a, b in
            let la = length(Int(a)), lb = length(Int(b))
            return la != lb ? la > lb : a < b
        }
    }

    var longest: Int { (0..<count).map(length).max() ?? 0 }

    /// Fingerprint of ids, boundaries and labels: ranks check they read the same data.
    var hash: UInt64 {
        var h = FNV1a64()
        ids.withUnsafeBytes { h.add($0) }
        starts.withUnsafeBytes { h.add($0) }
        labels.withUnsafeBytes { h.add($0) }
        return h.value
    }
}
