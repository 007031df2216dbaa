import CKernels
import Foundation

/// The decoder and its softmax cross-entropy split by vocabulary rows over the ranks (`--vocab-parallel`;
/// Megatron-LM's vocab-parallel cross-entropy), for the training step. Each rank computes the logits of
/// its own rows (`VocabSplit`) for every rank's tokens, so the decoder's weights and gradient never
/// travel: what does is the tokens' hidden states and targets, three numbers per token and rank, and
/// the hidden states' gradient.
///
/// Per step, on rank r with n rows of its own (R = N·n in all):
///   all-gather h [n, H] and the targets (one ring) → every rank's rows, rank-major [R, H]
///   per chunk of C = N·`--chunk-rows` rows (one chunk when R ≤ C):
///     logits = h_c W_rᵀ + b_r                      [C, V/N] (one GEMM; kept for the backward)
///     per row: max, Σexp(x − max), target's logit  (0 when the target is another rank's)
///     all-gather those [C, 3] per rank             → every rank combines them in rank order: the same
///                                                    log-sum-exp (and loss) everywhere
///     dlogits = scale·(exp(x − lse) − onehot)      in place; db_r += Σ rows
///     dW_r += dlogitsᵀ h_c;  dh_c = dlogits W_r    [C, H] partial sums over this rank's vocabulary
///   reduce-scatter dh                              → rank r's block: its rows' dh, summed over ranks
///
/// The logits take at most C·V/N = `--chunk-rows`·V floats, what `Decoder`'s chunk takes without the
/// split, whatever the batch; and as few rounds of statistics as that allows (one at the lecture's config).
/// The gradients have the data-parallel step's scale: every rank passes `scale` = 1/(N·its rows), one
/// over the global batch's tokens, so rank r's dW_r is the global batch's gradient for its rows, what the
/// reduce-scatter would have given its owner. Allocates nothing per step.
final class VocabParallelDecoder {
    let split: VocabSplit
    let comm: Communicator
    let threads: ComputeThreads
    let rank: Int
    let ranks: Int
    /// This rank's vocabulary rows.
    let mine: Range<Int>
    let hidden: Int
    /// Gathered rows per chunk: N·`chunkRows`, at most R.
    let chunk: Int
    /// The all-gather's blocks (per rank: its h, then its targets), then every rank's rows of h [R, H] and
    /// their targets (as floats: exact below 2^24), this rank's logits of one chunk [C, |mine|], the
    /// chunk's per-row statistics of every rank [N, C, 3], its combined log-sum-exp [C], dh [R, H], and
    /// the bias gradient's per-thread partial sums.
    let gathered: FloatBuffer
    let h: FloatBuffer
    let targets: FloatBuffer
    let logits: FloatBuffer
    let stats: FloatBuffer
    let lse: FloatBuffer
    let dh: FloatBuffer
    let dbPartial: FloatBuffer
    /// Its collectives' time (and a tied split's embedding's), for benchmarks.
    let clock = CollectiveClock()

    /// `rows`: the most rows a rank passes (batch columns × bptt); `chunkRows`: the logits held at once are
    /// at most those of `chunkRows` whole rows (N·chunkRows rows of V/N).
    init(split: VocabSplit, comm: Communicator, rows: Int, chunkRows: Int, threads: ComputeThreads) {
        precondition(split.ranks == comm.size, "vocab split for \(split.ranks) ranks, the job has \(comm.size)")
        precondition(split.rows < 1 << 24, "targets travel as floats")
        self.split = split
        self.comm = comm
        self.threads = threads
        rank = comm.rank
        ranks = comm.size
        mine = split.rows(of: comm.rank)
        hidden = split.width
        let all = rows * ranks
        chunk = max(1, min(chunkRows * ranks, all))
        gathered = FloatBuffer(count: all * (hidden + 1))
        h = FloatBuffer(count: all * hidden)
        targets = FloatBuffer(count: all)
        logits = FloatBuffer(count: chunk * mine.count)
        stats = FloatBuffer(count: ranks * chunk * 3)
        lse = FloatBuffer(count: chunk)
        dh = FloatBuffer(count: all * hidden)
        dbPartial = FloatBuffer(count: threads.count * mine.count)
    }

    /// Bytes one rank sends per training step with `n` rows per rank (ring all-gathers and reduce-scatter:
    /// N−1 blocks each): h and targets, the row statistics (all chunks together), dh.
    func bytesPerStep(rows n: Int) -> Int { (ranks - 1) * (2 * n * hidden + n + 3 * n * ranks) * 4 }

    private func collectives(_ body: () throws -> Void) throws { try clock.time(comm, body) }

    /// Sum over this rank's `n` rows of CE(h W_decᵀ + b, y), as `Decoder.lossAndGradient`; with `grad`,
    /// accumulates `scale`·gradients into this rank's rows of dW and db, and writes dH (= scale·dCE/dh)
    /// for its own rows. `w` and `bias` point at the whole decoder; only this rank's rows are read.
    /// Every rank calls it with the same n.
    func lossAndGradient(rows n: Int, h hIn: UnsafePointer<Float>, targets y: UnsafePointer<Int32>,
                         w: UnsafePointer<Float>, bias: UnsafePointer<Float>, scale: Float,
                         grad: (dw: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>, dh: UnsafeMutablePointer<Float>)?) throws -> Double {
        let hd = hidden, all = n * ranks
        // every rank's rows of h and their targets, in one all-gather of [h | targets] blocks
        let block = n * (hd + 1), mineOut = gathered.ptr + rank * block
        mineOut.update(from: hIn, count: n * hd)
        for i in 0..<n { mineOut[n * hd + i] = Float(y[i]) }
        try collectives { try comm.allGather(gathered.ptr, countPerRank: block) }
        let t = targets.ptr
        for r in 0..<ranks {
            let src = gathered.ptr + r * block
            (h.ptr + r * n * hd).update(from: src, count: n * hd)
            (t + r * n).update(from: src + n * hd, count: n)
        }

        var total = 0.0
        var r0 = 0
        while r0 < all {
            let rc = min(chunk, all - r0)
            total += try chunkLossAndGradient(rows: rc, from: r0, ownRows: n * rank..<n * (rank + 1), w: w, bias: bias,
                                              scale: scale, grad: grad.map { ($0.dw, $0.db) })
            r0 += rc
        }
        guard let grad else { return total }
        try collectives { try comm.reduceScatterSum(dh.ptr, countPerRank: n * hd) }
        grad.dh.update(from: dh.ptr + rank * n * hd, count: n * hd)
        return total
    }

    /// Rows r0 ..< r0 + rc of the gathered ones: this rank's logits, the statistics' all-gather, the loss
    /// of those in `ownRows`; with `grad`, dW_r and db_r accumulated and the rows' dh partial sums.
    private func chunkLossAndGradient(rows rc: Int, from r0: Int, ownRows: Range<Int>, w: UnsafePointer<Float>,
                                      bias: UnsafePointer<Float>, scale: Float,
                                      grad: (dw: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>)?) throws -> Double {
        let hd = hidden, v0 = mine.lowerBound, vr = mine.count
        let hc = h.ptr + r0 * hd, t = targets.ptr + r0
        // this rank's logits for the chunk, and each row's part of the log-sum-exp
        gemm(transA: false, transB: true, m: rc, n: vr, k: hd, a: hc, lda: hd, b: w + v0 * hd, ldb: hd,
             beta: 0, c: logits.ptr, ldc: vr)
        let lp = logits.ptr, workers = min(threads.count, rc)
        ddplm_vocab_stats_rows(workers, rc, lp, vr, bias + v0, t, v0, stats.ptr + rank * rc * 3)
        try collectives { try comm.allGather(stats.ptr, countPerRank: rc * 3) }

        // the whole rows' log-sum-exp, combined in rank order on every rank; this rank's rows' loss
        var total = 0.0
        for i in 0..<rc {
            var m = -Float.infinity
            for r in 0..<ranks { m = max(m, stats[r * rc * 3 + 3 * i]) }
            var s = 0.0, logit = 0.0
            for r in 0..<ranks {
                let q = r * rc * 3 + 3 * i
                s += Double(stats[q + 1]) * exp(Double(stats[q] - m))
                logit += Double(stats[q + 2])
            }
            let l = Double(m) + log(s)
            lse[i] = Float(l)
            if ownRows.contains(r0 + i) { total += l - logit }
        }
        guard let grad else { return total }

        // dlogits in place, the bias gradient in per-thread partial sums (added in a fixed order)
        let partial = dbPartial.ptr
        partial.update(repeating: 0, count: workers * vr)
        ddplm_vocab_grad_rows(workers, rc, lp, vr, lse.ptr, t, v0, scale, partial)
        addParts(partial, count: workers, width: vr, into: grad.db + v0)
        gemm(transA: true, transB: false, m: vr, n: hd, k: rc, a: lp, lda: vr, b: hc, ldb: hd,
             beta: 1, c: grad.dw + v0 * hd, ldc: hd)
        gemm(transA: false, transB: false, m: rc, n: hd, k: vr, a: lp, lda: vr, b: w + v0 * hd, ldb: hd,
             beta: 0, c: dh.ptr + r0 * hd, ldc: hd)
        return total
    }
}
