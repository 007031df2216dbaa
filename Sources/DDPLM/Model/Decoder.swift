import CKernels
/// Linear(H, V) fused with softmax cross-entropy, in row chunks so the [rows × V] logits are never
/// materialised whole (at B·bptt = 1600, V = 50002 that would be 320 MB; an 800-row chunk is 160 MB).
/// Fewer, larger chunks mean fewer passes of the dW GEMM over the 20 MB decoder gradient, which is what
/// limits two ranks sharing a memory bus (the default, 800 rows, is where `ddplm bench` ran fastest on 1 and 2 ranks).
/// Per chunk: logits = H_c W_decᵀ (GEMM) → bias, softmax, CE, dlogits in place (SIMD kernel) →
/// dW_dec += dlogitsᵀ H_c and dH_c = dlogits W_dec (two GEMMs). Rows of a chunk's softmax are split over
/// `threads` workers, each with its own partial bias gradient, summed in a fixed order.
final class Decoder {
    let vocab: Int
    let hidden: Int
    let chunkRows: Int
    let threads: ComputeThreads
    let logits: FloatBuffer     // [chunkRows, V]
    let dbPartial: FloatBuffer  // [threads, V]
    let rowLoss: UnsafeMutablePointer<Double>

    init(vocab: Int, hidden: Int, chunkRows: Int, threads: ComputeThreads) {
        self.vocab = vocab
        self.hidden = hidden
        self.chunkRows = max(1, chunkRows)
        self.threads = threads
        logits = FloatBuffer(count: self.chunkRows * vocab)
        dbPartial = FloatBuffer(count: threads.count > 1 ? threads.count * vocab : 0)
        rowLoss = .allocate(capacity: self.chunkRows)
    }

    deinit { rowLoss.deallocate() }

    /// How the decoder meets the overlapped exchange (`ExchangeSchedule`): the store offsets of W and b,
    /// whether W is tied to the embedding (then its gradient is not final here: the embedding's backward
    /// still adds to it), and the order of W's rows (the backward finishes dW in it; the forward reads W
    /// in reverse, as its rows arrive).
    struct Readiness {
        let listener: ExchangeSchedule
        let weightOffset: Int
        let tied: Bool
        let biasOffset: Int
        let rowOrder: [Range<Int>]
    }

    /// Sum over rows of CE(h_r W_decᵀ + b, y_r). With `grad`, also accumulates `scale`·gradients into
    /// dW/db and writes dH (= scale · dCE/dh) for every row. With `ready`, the first chunk's logits GEMM
    /// runs in pieces as W's rows arrive, and the last chunk's dW GEMM in `rowOrder` pieces, each reported
    /// final as it is done, before that chunk's dH. `packs`: W's tiles, packed already (`WeightPacks`).
    func lossAndGradient(rows n: Int, h: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                         w: UnsafePointer<Float>, bias: UnsafePointer<Float>, scale: Float,
                         grad: (dw: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>, dh: UnsafeMutablePointer<Float>)?,
                         ready: Readiness? = nil, packs: WeightPacks.Entry? = nil) -> Double {
        let v = vocab, hd = hidden
        var total = 0.0
        var r0 = 0
        while r0 < n {
            let rc = min(chunkRows, n - r0)
            let hc = h + r0 * hd
            if let ready, r0 == 0 {
                // the first chunk reads W as its rows arrive from the previous step's all-gather
                for rows in ready.rowOrder.reversed() {
                    let wo = ready.weightOffset
                    ready.listener.awaitParameters(wo + rows.lowerBound * hd..<wo + rows.upperBound * hd)
                    gemm(transA: false, transB: true, m: rc, n: rows.count, k: hd, a: hc, lda: hd, b: w + rows.lowerBound * hd, ldb: hd,
                         beta: 0, c: logits.ptr + rows.lowerBound, ldc: v)
                }
                ready.listener.awaitParameters(ready.biasOffset..<ready.biasOffset + v)
            } else if let packs {
                packs.transposed.multiply(threads: threads.count, m: rc, a: hc, lda: hd, beta: 0, c: logits.ptr, ldc: v)
            } else {
                gemm(transA: false, transB: true, m: rc, n: v, k: hd, a: hc, lda: hd, b: w, ldb: hd,
                     beta: 0, c: logits.ptr, ldc: v)
            }
            softmaxRows(rc, targets: targets + r0, bias: bias, scale: scale, db: grad?.db)
            for i in 0..<rc { total += rowLoss[i] }
            if let grad {
                // the last chunk tells the exchange what is final: db now, dW piece by piece as its GEMM runs
                let reporting = r0 + rc == n ? ready : nil
                if let reporting { reporting.listener.gradientsFinal(reporting.biasOffset..<reporting.biasOffset + v) }
                if let reporting, !reporting.tied {
                    let wo = reporting.weightOffset
                    for rows in reporting.rowOrder {
                        gemm(transA: true, transB: false, m: rows.count, n: hd, k: rc, a: logits.ptr + rows.lowerBound, lda: v,
                             b: hc, ldb: hd, beta: 1, c: grad.dw + rows.lowerBound * hd, ldc: hd)
                        reporting.listener.gradientsFinal(wo + rows.lowerBound * hd..<wo + rows.upperBound * hd)
                    }
                } else {
                    gemm(transA: true, transB: false, m: v, n: hd, k: rc, a: logits.ptr, lda: v, b: hc, ldb: hd,
                         beta: 1, c: grad.dw, ldc: hd)
                }
                if let packs {
                    packs.straight.multiply(threads: threads.count, m: rc, a: logits.ptr, lda: v, beta: 0, c: grad.dh + r0 * hd, ldc: hd)
                } else {
                    gemm(transA: false, transB: false, m: rc, n: hd, k: v, a: logits.ptr, lda: v, b: w, ldb: hd,
                         beta: 0, c: grad.dh + r0 * hd, ldc: hd)
                }
            }
            r0 += rc
        }
        return total
    }

    private func softmaxRows(_ rc: Int, targets: UnsafePointer<Int32>, bias: UnsafePointer<Float>, scale: Float,
                             db: UnsafeMutablePointer<Float>?) {
        let v = vocab, lp = logits.ptr, losses = rowLoss
        let workers = min(threads.count, rc)
        if workers <= 1 {  // one part, inline: its bias gradient goes straight into db
            ddplm_softmax_xent_rows(1, rc, lp, v, bias, targets, scale, db, losses)
            return
        }
        let partial = dbPartial.ptr
        if db != nil { partial.update(repeating: 0, count: workers * v) }
        ddplm_softmax_xent_rows(workers, rc, lp, v, bias, targets, scale, db == nil ? nil : partial, losses)
        if let db { addParts(partial, count: workers, width: v, into: db) }
    }

    /// Logits of one row (for generation): out[V] = h W_decᵀ + b.
    func logitsRow(h: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) {
        out.update(from: bias, count: vocab)
        gemm(transA: false, transB: true, m: 1, n: vocab, k: hidden, a: h, lda: hidden, b: w, ldb: hidden,
             beta: 1, c: out, ldc: vocab)
    }
}
