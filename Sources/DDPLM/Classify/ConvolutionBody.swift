/// CNN: Conv1d filters of each width over the embeddings, ReLU, max over time, concatenated (dropout).
/// A document of length L is treated as padded to Lp = max(L, widest filter) and its max runs over the
/// windows s = 0 … Lp − w only, so extra padding in a batch changes nothing.
///
/// Forward: a width-w conv is w GEMMs, one per tap k (rows shifted by k: out[r] += x[r + k] W_kᵀ) over the
/// whole batch-major block. Backward: after a max over time only one window per (document, filter)
/// carries a gradient, so the weight and embedding gradients are a sparse sum over those windows —
/// O(b·F·w·E) instead of the forward's O(b·t·F·w·E).
final class ConvolutionBody: ClassifierBody {
    let store: ParameterStore
    let config: ClassifierConfig
    let dim: Int
    let filters: Int
    let emb: Int
    let convOffsets: [(weight: Int, bias: Int)]
    let x: FloatBuffer          // [b·t + widest, E] embedded, batch-major, zero tail
    let conv: FloatBuffer       // [b·t, F] one width's pre-activations
    let taps: FloatBuffer       // [widest, F, E] one width's weights regrouped by tap
    let pooled: FloatBuffer     // [b, widths·F]
    let argmax: UnsafeMutablePointer<Int32>  // [b, widths·F] the winning window, −1 when the max is ≤ 0
    let poolDropout: DropoutSite

    static func declare(_ c: ClassifierConfig, _ l: inout ParameterLayout) {
        for (i, w) in c.filterSizes.enumerated() {
            l.add("convs.\(i).weight", [c.filters, c.embedding, w])
            l.add("convs.\(i).bias", [c.filters])
        }
    }

    init(config c: ClassifierConfig, store: ParameterStore, maxColumns: Int, maxT: Int) {
        self.store = store
        config = c
        dim = c.embedding
        filters = c.filters
        emb = store.layout.offset("embedding.weight")
        convOffsets = c.filterSizes.indices.map { (store.layout.offset("convs.\($0).weight"), store.layout.offset("convs.\($0).bias")) }
        let widest = c.filterSizes.max()!
        x = FloatBuffer(count: (maxColumns * maxT + widest) * dim)
        conv = FloatBuffer(count: maxColumns * maxT * filters)
        taps = FloatBuffer(count: widest * filters * dim)
        let width = c.filterSizes.count * filters
        pooled = FloatBuffer(count: maxColumns * width)
        argmax = .allocate(capacity: maxColumns * width)
        poolDropout = DropoutSite(site: 200, p: c.dropout, capacity: maxColumns * width)
        features = pooled.ptr
    }

    deinit { argmax.deallocate() }

    var featureWidth: Int { config.filterSizes.count * filters }
    /// The pooled features, or their dropped-out copy while training.
    private(set) var features: UnsafeMutablePointer<Float>

    /// Reads `store.params` (waits for the whole all-gather) and reports nothing: its tensors and the
    /// embedding are small next to the exchange's fixed costs.
    func forward(_ batch: DocumentBatch, dropout: DropoutKey?, schedule: ExchangeSchedule?) {
        let p = store.params.ptr, b = batch.columns, t = batch.t, e = dim, f = filters, width = featureWidth
        let widest = config.filterSizes.max()!
        DocumentEmbedding.gather(batch, table: p + emb, dim: e, timeMajor: false, out: x.ptr)
        (x.ptr + b * t * e).update(repeating: 0, count: widest * e)
        for (i, w) in config.filterSizes.enumerated() {
            let weight = p + convOffsets[i].weight, bias = p + convOffsets[i].bias
            // W[f, e, k] → taps[k][f][e]
            for k in 0..<w { for o in 0..<f { for c in 0..<e { taps.ptr[(k * f + o) * e + c] = weight[(o * e + c) * w + k] } } }
            for r in 0..<(b * t) { (conv.ptr + r * f).update(from: bias, count: f) }
            for k in 0..<w {
                gemm(transA: false, transB: true, m: b * t, n: f, k: e, a: x.ptr + k * e, lda: e, b: taps.ptr + k * f * e, ldb: e,
                     beta: 1, c: conv.ptr, ldc: f)
            }
            for j in 0..<b {
                let windows = max(Int(batch.lengths[j]), widest) - w + 1
                let out = pooled.ptr + j * width + i * f, arg = argmax + j * width + i * f
                let first = conv.ptr + j * t * f
                for o in 0..<f { out[o] = first[o]; arg[o] = 0 }
                for s in 1..<max(windows, 1) {
                    let row = first + s * f
                    for o in 0..<f where row[o] > out[o] { out[o] = row[o]; arg[o] = Int32(s) }
                }
                for o in 0..<f where out[o] <= 0 { out[o] = 0; arg[o] = -1 }
            }
        }
        features = poolDropout.forward(pooled.ptr, t: 1, b: b, width: width, firstColumn: batch.firstColumn, key: dropout)
    }

    func backward(_ batch: DocumentBatch, dFeatures: UnsafeMutablePointer<Float>, ready: ExchangeSchedule?) {
        let p = store.params.ptr, g = store.grads.ptr, b = batch.columns, t = batch.t, e = dim, f = filters, width = featureWidth
        poolDropout.backward(dFeatures, count: b * width)
        for (i, w) in config.filterSizes.enumerated() {
            let weight = p + convOffsets[i].weight, dWeight = g + convOffsets[i].weight, dBias = g + convOffsets[i].bias
            for j in 0..<b {
                let n = Int(batch.lengths[j])
                for o in 0..<f {
                    let s = Int(argmax[j * width + i * f + o])
                    if s < 0 { continue }
                    let d = dFeatures[j * width + i * f + o]
                    dBias[o] += d
                    for k in 0..<w {
                        let xr = x.ptr + (j * t + s + k) * e, wr = weight + o * e * w + k, dwr = dWeight + o * e * w + k
                        for c in 0..<e { dwr[c * w] += d * xr[c] }
                        let pos = s + k
                        let id = pos < n ? Int(batch.ids[j * t + pos]) : Vocabulary.pad
                        if id == Vocabulary.pad { continue }
                        let de = g + emb + id * e
                        for c in 0..<e { de[c] += d * wr[c * w] }
                    }
                }
            }
        }
    }
}
