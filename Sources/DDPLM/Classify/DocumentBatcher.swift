/// The order documents are trained in, as torchtext's BucketIterator does it: every epoch shuffles the
/// documents (seeded by the run's seed and the epoch), sorts pools of 100 batches by length so a batch
/// holds documents of similar length (little padding), cuts the pools into batches and shuffles the
/// batches. Each global batch is sorted longest first; rank r takes its contiguous slice
/// [r·k/N, (r+1)·k/N) of a batch of k documents. A pure function of (seed, epoch): every rank computes
/// the same plan, and a resumed run continues the same one.
struct DocumentBatcher {
    let docs: DocumentSet
    let batch: Int
    let seed: UInt64
    static let poolBatches = 100

    var batchesPerEpoch: Int { (docs.count + batch - 1) / batch }

    /// The global batches of `epoch`, each a list of document indices, longest first.
    func plan(epoch: Int) -> [[Int32]] {
        let n = docs.count
        var rng = SplitMix64(seed: SplitMix64.mix(seed ^ 0x636c_6173_7369_6679) &+ UInt64(epoch))
        var order = (0..<n).map { Int32($0) }
        if n > 1 { for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) } }
        var batches: [[Int32]] = []
        let pool = batch * DocumentBatcher.poolBatches
        var start = 0
        while start < n {
            let p = docs.longestFirst(order[start..<min(n, start + pool)])
            var s = 0
            while s < p.count {
                batches.append(Array(p[s..<min(p.count, s + batch)]))
                s += batch
            }
            start += pool
        }
        if batches.count > 1 { for i in stride(from: batches.count - 1, to: 0, by: -1) { batches.swapAt(i, Int(rng.next() % UInt64(i + 1))) } }
        return batches
    }

    /// Rank r's slice of a batch of k documents.
    static func slice(count k: Int, rank r: Int, ranks n: Int) -> Range<Int> { (r * k / n)..<((r + 1) * k / n) }
}
