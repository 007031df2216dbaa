/// The embedding of a tied model under `--vocab-parallel` (Megatron-LM's VocabParallelEmbedding): the
/// table is the decoder's weight, split by vocabulary rows (`VocabSplit`), and each rank holds current
/// values of its own rows only. So the lookup goes to the rows' owners:
///
///   forward:  all-gather the tokens of every rank [R] → this rank writes the rows it owns, zeros elsewhere
///             [R, E] → reduce-scatter: each rank gets its own tokens' rows (one owner each: x + 0 = x, exact)
///   backward: all-gather dEmb [R, E] → this rank adds the rows of the tokens it owns into its rows of
///             dTable, in the gathered order
///
/// Every rank calls both with the same n. Allocates nothing per step.
final class VocabParallelEmbedding {
    let split: VocabSplit
    let comm: Communicator
    let mine: Range<Int>
    let width: Int
    /// Every rank's tokens (as floats: exact below 2^24) [R], and [R, E] for the rows out and the
    /// gradients in.
    let ids: FloatBuffer
    let rows: FloatBuffer
    /// Its collectives' time, for benchmarks (the decoder's clock: one for the split's collectives).
    let clock: CollectiveClock

    /// `rows`: the most tokens a rank passes (batch columns × bptt).
    init(split: VocabSplit, comm: Communicator, rows n: Int, clock: CollectiveClock) {
        precondition(split.ranks == comm.size && split.rows < 1 << 24, "vocab split for \(split.ranks) ranks; tokens travel as floats")
        self.split = split
        self.comm = comm
        self.clock = clock
        mine = split.rows(of: comm.rank)
        width = split.width
        ids = FloatBuffer(count: n * comm.size)
        rows = FloatBuffer(count: n * comm.size * split.width)
    }

    /// Bytes one rank sends per training step with `n` rows per rank (ring all-gathers and reduce-scatter:
    /// N−1 blocks each): the tokens, the rows out, the gradients in.
    func bytesPerStep(rows n: Int) -> Int { (comm.size - 1) * (n + 2 * n * width) * 4 }

    /// out[n, E] = table rows of this rank's n tokens `x`. `table` is the whole [V, E] table; only this
    /// rank's rows are read.
    func forward(ids x: UnsafePointer<Int32>, n: Int, table: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) throws {
        let e = width, all = n * comm.size, r0 = comm.rank * n
        for i in 0..<n { ids[r0 + i] = Float(x[i]) }
        try clock.time(comm) { try comm.allGather(ids.ptr, countPerRank: n) }
        for i in 0..<all {
            let token = Int(ids[i]), row = rows.ptr + i * e
            if mine.contains(token) { row.update(from: table + token * e, count: e) } else { row.update(repeating: 0, count: e) }
        }
        try clock.time(comm) { try comm.reduceScatterSum(rows.ptr, countPerRank: n * e) }
        out.update(from: rows.ptr + r0 * e, count: n * e)
    }

    /// dTable[token] += dOut[i] for every rank's tokens whose row this rank owns (the tokens of the last
    /// `forward`). `dOut` is this rank's [n, E].
    func backward(n: Int, dOut: UnsafePointer<Float>, dTable: UnsafeMutablePointer<Float>) throws {
        let e = width, all = n * comm.size
        (rows.ptr + comm.rank * n * e).update(from: dOut, count: n * e)
        try clock.time(comm) { try comm.allGather(rows.ptr, countPerRank: n * e) }
        for i in 0..<all {
            let token = Int(ids[i])
            guard mine.contains(token) else { continue }
            let d = dTable + token * e, s = rows.ptr + i * e
            for k in 0..<e { d[k] += s[k] }
        }
    }
}
