/// WordAVG: the mean of the embeddings of a document's tokens (padding excluded), then fc1 and a ReLU.
///   avg_j = Σ_{s<L_j} E[id_js] / L_j,   f_j = relu(avg_j W1ᵀ + b1)
final class WordAverageBody: ClassifierBody {
    let store: ParameterStore
    let dim: Int
    let hidden: Int
    let emb: Int, w1: Int, b1: Int
    let avg: FloatBuffer     // [b, E]
    let h1: FloatBuffer      // [b, hidden] = features
    let dAvg: FloatBuffer    // [b, E]

    static func declare(_ c: ClassifierConfig, _ l: inout ParameterLayout) {
        l.add("fc1.weight", [c.hidden, c.embedding])
        l.add("fc1.bias", [c.hidden])
    }

    init(config c: ClassifierConfig, store: ParameterStore, maxColumns: Int) {
        self.store = store
        dim = c.embedding
        hidden = c.hidden
        emb = store.layout.offset("embedding.weight")
        w1 = store.layout.offset("fc1.weight")
        b1 = store.layout.offset("fc1.bias")
        avg = FloatBuffer(count: maxColumns * dim)
        h1 = FloatBuffer(count: maxColumns * hidden)
        dAvg = FloatBuffer(count: maxColumns * dim)
    }

    var featureWidth: Int { hidden }
    var features: UnsafeMutablePointer<Float> { h1.ptr }

    /// Reads `store.params` (waits for the whole all-gather) and reports nothing: its tensors and the
    /// embedding are small next to the exchange's fixed costs.
    func forward(_ batch: DocumentBatch, dropout: DropoutKey?, schedule: ExchangeSchedule?) {
        let p = store.params.ptr, b = batch.columns, t = batch.t, e = dim
        for j in 0..<b {
            let a = avg.ptr + j * e, n = Int(batch.lengths[j])
            a.update(repeating: 0, count: e)
            for s in 0..<n {
                let id = Int(batch.ids[j * t + s])
                if id == Vocabulary.pad { continue }
                let row = p + emb + id * e
                for k in 0..<e { a[k] += row[k] }
            }
            let inv = 1 / Float(n)
            for k in 0..<e { a[k] *= inv }
        }
        Linear.forward(x: avg.ptr, rows: b, input: e, output: hidden, weight: p + w1, bias: p + b1, out: h1.ptr)
        for i in 0..<(b * hidden) where h1.ptr[i] < 0 { h1.ptr[i] = 0 }
    }

    func backward(_ batch: DocumentBatch, dFeatures: UnsafeMutablePointer<Float>, ready: ExchangeSchedule?) {
        let p = store.params.ptr, g = store.grads.ptr, b = batch.columns, t = batch.t, e = dim
        for i in 0..<(b * hidden) where h1.ptr[i] <= 0 { dFeatures[i] = 0 }
        Linear.backward(dOut: dFeatures, x: avg.ptr, rows: b, input: e, output: hidden, weight: p + w1,
                        dWeight: g + w1, dBias: g + b1, dX: dAvg.ptr)
        for j in 0..<b {
            let n = Int(batch.lengths[j]), inv = 1 / Float(n), d = dAvg.ptr + j * e
            for s in 0..<n {
                let id = Int(batch.ids[j * t + s])
                if id == Vocabulary.pad { continue }
                let row = g + emb + id * e
                for k in 0..<e { row[k] += d[k] * inv }
            }
        }
    }
}
