/// The part of a classifier between the token ids and the final Linear: embeds a batch and turns each
/// document into a feature row; backward takes the features' gradient back to the weights (the
/// embedding's included). `WordAverageBody`, `BiLSTMBody`, `ConvolutionBody`.
protocol ClassifierBody: AnyObject {
    /// Width of a document's feature row.
    var featureWidth: Int { get }
    /// [columns, featureWidth], valid after `forward`.
    var features: UnsafeMutablePointer<Float> { get }
    /// `dropout`: the masks' key when training (nil: evaluation). With `schedule` (a training step with
    /// the overlapped exchange) a body may await each weight range before it reads it
    /// (`store.paramsInFlight`); one that does not reads `store.params`, which waits for all of them.
    func forward(_ batch: DocumentBatch, dropout: DropoutKey?, schedule: ExchangeSchedule?)
    /// dFeatures: [columns, featureWidth] (may be overwritten). Accumulates into the store's gradients,
    /// and may tell `ready` which are final (what it does not report is exchanged after the compute).
    func backward(_ batch: DocumentBatch, dFeatures: UnsafeMutablePointer<Float>, ready: ExchangeSchedule?)
    /// The ranges `backward` tells `ready` are final, in its order: a rank without documents in a step
    /// reports them at once, so that every rank hands the exchange the same segments in the same order.
    var reportedGradients: [Range<Int>] { get }
}

extension ClassifierBody {
    /// A body whose backward reports nothing (its gradients are exchanged after the compute).
    var reportedGradients: [Range<Int>] { [] }
}

/// The embedding lookups every body shares, with `nn.Embedding(padding_idx=<pad>)` semantics: the pad row
/// reads as zero and gets no gradient, and positions past a document's end read as zero.
enum DocumentEmbedding {
    /// out[row of (j, s)] = the embedding of column j's token s for every position s < t (zero past the
    /// document's end); rows are batch-major (j·t + s) or time-major (s·b + j).
    static func gather(_ batch: DocumentBatch, table: UnsafePointer<Float>, dim: Int, timeMajor: Bool, out: UnsafeMutablePointer<Float>) {
        let t = batch.t, b = batch.columns
        for j in 0..<b {
            let n = Int(batch.lengths[j])
            for s in 0..<t {
                let o = out + (timeMajor ? s * b + j : j * t + s) * dim, id = Int(batch.ids[j * t + s])
                if s < n && id != Vocabulary.pad { o.update(from: table + id * dim, count: dim) } else { o.update(repeating: 0, count: dim) }
            }
        }
    }

    /// dTable[id] += d[row of (j, s)] for every real position; `timeMajor` picks the layout of d.
    static func scatter(_ batch: DocumentBatch, d: UnsafePointer<Float>, timeMajor: Bool, dim: Int, dTable: UnsafeMutablePointer<Float>) {
        let t = batch.t, b = batch.columns
        for j in 0..<b {
            for s in 0..<Int(batch.lengths[j]) {
                let id = Int(batch.ids[j * t + s])
                if id == Vocabulary.pad { continue }
                let src = d + (timeMajor ? s * b + j : j * t + s) * dim, dst = dTable + id * dim
                for k in 0..<dim { dst[k] += src[k] }
            }
        }
    }

    /// Marks the rows `scatter` (or a body's own backward) adds to: every real position's token.
    static func mark(_ batch: DocumentBatch, into touched: TouchedRows) {
        for j in 0..<batch.columns {
            for s in 0..<Int(batch.lengths[j]) {
                let id = Int(batch.ids[j * batch.t + s])
                if id != Vocabulary.pad { touched.mark(id) }
            }
        }
    }
}

/// Dropout on a [rows, width] block at one site of a classifier (inverted, counter-based masks keyed by
/// the document's global column, so any rank count draws the same mask).
final class DropoutSite {
    let site: UInt64
    let p: Float
    let mask: FloatBuffer
    let out: FloatBuffer
    private var applied = false

    init(site: UInt64, p: Float, capacity: Int) {
        self.site = site
        self.p = p
        mask = FloatBuffer(count: p > 0 ? capacity : 0)
        out = FloatBuffer(count: p > 0 ? capacity : 0)
    }

    /// The dropped-out copy of x ([t·b, width] time-major, or t = 1 for one row per column), or x itself.
    func forward(_ x: UnsafeMutablePointer<Float>, t: Int, b: Int, width: Int, firstColumn: Int, key: DropoutKey?) -> UnsafeMutablePointer<Float> {
        guard let key, p > 0 else { applied = false; return x }
        applied = true
        Dropout.makeMask(mask.ptr, t: t, b: b, width: width, p: p, seed: key.seed, step: key.step, site: site, firstColumn: firstColumn)
        Dropout.apply(x, mask.ptr, out.ptr, t * b * width)
        return out.ptr
    }

    /// In place: the gradient w.r.t. the site's input, from the gradient w.r.t. its output.
    func backward(_ d: UnsafeMutablePointer<Float>, count: Int) {
        if applied { Dropout.backward(d, mask.ptr, count) }
    }
}
