/// BiLSTM: embeddings (dropout) → `layers` bidirectional LSTM layers over each document's own length
/// (dropout between layers, as nn.LSTM's `dropout`) → the last layer's final forward and reverse states,
/// concatenated (dropout). PyTorch: `pack_padded_sequence` + `nn.LSTM(bidirectional=True)`, then
/// `cat(hidden[-2], hidden[-1])`.
final class BiLSTMBody: ClassifierBody {
    let store: ParameterStore
    let config: ClassifierConfig
    let dim: Int
    let hidden: Int
    let emb: Int
    /// [layer][direction]: offsets of weight_ih, weight_hh, bias_ih, bias_hh.
    let offsets: [[(wih: Int, whh: Int, bih: Int, bhh: Int)]]
    /// Per layer: the flat range of its eight tensors (both directions); and the embedding's.
    let layerSpans: [Range<Int>]
    let embeddingSpan: Range<Int>
    /// What `backward` reports final, in its order: the layers top first, then the embedding.
    let reportedGradients: [Range<Int>]
    let directions: [[LSTMDirection]]
    let x0: FloatBuffer                 // [t·b, E] embedded, time-major
    let outputs: [FloatBuffer]          // per layer [t·b, 2H]
    let dInputs: [FloatBuffer]          // per layer: gradient of that layer's input [t·b, in]
    let inputDropout: [DropoutSite]     // per layer: dropout on its input (embeddings, then the layer below)
    let final: FloatBuffer              // [b, 2H]
    let finalDropout: DropoutSite
    let dFinal: [FloatBuffer]           // per direction [b, H]
    private var layerInputs: [UnsafeMutablePointer<Float>]

    static func torchName(_ kind: String, layer: Int, reverse: Bool) -> String { "rnn.\(kind)_l\(layer)\(reverse ? "_reverse" : "")" }

    static func declare(_ c: ClassifierConfig, _ l: inout ParameterLayout) {
        for k in 0..<c.layers {
            let input = k == 0 ? c.embedding : 2 * c.hidden
            for reverse in [false, true] {
                l.add(torchName("weight_ih", layer: k, reverse: reverse), [4 * c.hidden, input])
                l.add(torchName("weight_hh", layer: k, reverse: reverse), [4 * c.hidden, c.hidden])
                l.add(torchName("bias_ih", layer: k, reverse: reverse), [4 * c.hidden])
                l.add(torchName("bias_hh", layer: k, reverse: reverse), [4 * c.hidden])
            }
        }
    }

    init(config c: ClassifierConfig, store: ParameterStore, maxColumns: Int, maxT: Int, threads: ComputeThreads) {
        self.store = store
        config = c
        dim = c.embedding
        hidden = c.hidden
        let L = store.layout
        emb = L.offset("embedding.weight")
        let name = BiLSTMBody.torchName
        offsets = (0..<c.layers).map { k in
            [false, true].map { r in
                (L.offset(name("weight_ih", k, r)), L.offset(name("weight_hh", k, r)),
                 L.offset(name("bias_ih", k, r)), L.offset(name("bias_hh", k, r)))
            }
        }
        layerSpans = (0..<c.layers).map { k in
            L.span([false, true].flatMap { r in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"].map { name($0, k, r) } })
        }
        embeddingSpan = L.span(["embedding.weight"])
        reportedGradients = layerSpans.reversed() + [embeddingSpan]
        directions = (0..<c.layers).map { k in
            [false, true].map { LSTMDirection(input: k == 0 ? c.embedding : 2 * c.hidden, hidden: c.hidden, maxColumns: maxColumns, maxT: maxT, reverse: $0, threads: threads) }
        }
        let rows = maxT * maxColumns
        x0 = FloatBuffer(count: rows * dim)
        outputs = (0..<c.layers).map { _ in FloatBuffer(count: rows * 2 * c.hidden) }
        dInputs = (0..<c.layers).map { FloatBuffer(count: rows * ($0 == 0 ? c.embedding : 2 * c.hidden)) }
        inputDropout = (0..<c.layers).map { DropoutSite(site: UInt64($0), p: c.dropout, capacity: rows * ($0 == 0 ? c.embedding : 2 * c.hidden)) }
        final = FloatBuffer(count: maxColumns * 2 * hidden)
        finalDropout = DropoutSite(site: 100, p: c.dropout, capacity: maxColumns * 2 * hidden)
        dFinal = [FloatBuffer(count: maxColumns * hidden), FloatBuffer(count: maxColumns * hidden)]
        layerInputs = Array(repeating: x0.ptr, count: c.layers)
        features = final.ptr
    }

    var featureWidth: Int { 2 * hidden }
    /// The concatenated final states, or their dropped-out copy while training.
    private(set) var features: UnsafeMutablePointer<Float>

    /// With `schedule`, each direction awaits its W_ih, runs its input projection's product, then awaits
    /// its W_hh and biases: the rest of the layer and the layers above still arrive meanwhile.
    func forward(_ batch: DocumentBatch, dropout: DropoutKey?, schedule: ExchangeSchedule?) {
        let p = store.params(awaitingWith: schedule).ptr, b = batch.columns, t = batch.t, h = hidden
        schedule?.awaitParameters(embeddingSpan)
        DocumentEmbedding.gather(batch, table: p + emb, dim: dim, timeMajor: true, out: x0.ptr)
        var raw = x0.ptr, width = dim
        for k in 0..<config.layers {
            let x = inputDropout[k].forward(raw, t: t, b: b, width: width, firstColumn: batch.firstColumn, key: dropout)
            layerInputs[k] = x
            for (d, dir) in directions[k].enumerated() {
                let o = offsets[k][d]
                schedule?.awaitParameters(o.wih..<o.whh)  // W_ih ends where W_hh starts
                dir.forward(batch, x: x, wih: p + o.wih, whh: p + o.whh, bih: p + o.bih, bhh: p + o.bhh,
                            out: outputs[k].ptr + d * h, ldOut: 2 * h) {
                    schedule?.awaitParameters(o.whh..<o.bhh + 4 * h)
                }
            }
            raw = outputs[k].ptr
            width = 2 * h
        }
        let top = directions[config.layers - 1]
        for j in 0..<b {
            (final.ptr + j * 2 * h).update(from: top[0].finalH(batch, column: j), count: h)
            (final.ptr + j * 2 * h + h).update(from: top[1].finalH(batch, column: j), count: h)
        }
        features = finalDropout.forward(final.ptr, t: 1, b: b, width: 2 * h, firstColumn: batch.firstColumn, key: dropout)
    }

    /// Tells `ready` each layer's gradients as soon as both directions are done (top layer first), then
    /// the embedding's.
    func backward(_ batch: DocumentBatch, dFeatures: UnsafeMutablePointer<Float>, ready: ExchangeSchedule?) {
        let p = store.params(awaitingWith: ready).ptr, g = store.grads.ptr, b = batch.columns, t = batch.t, h = hidden
        finalDropout.backward(dFeatures, count: b * 2 * h)
        for j in 0..<b {
            (dFinal[0].ptr + j * h).update(from: dFeatures + j * 2 * h, count: h)
            (dFinal[1].ptr + j * h).update(from: dFeatures + j * 2 * h + h, count: h)
        }
        for k in stride(from: config.layers - 1, through: 0, by: -1) {
            let top = k == config.layers - 1
            let dAbove: UnsafePointer<Float>? = top ? nil : UnsafePointer(dInputs[k + 1].ptr)
            for (d, dir) in directions[k].enumerated() {
                let o = offsets[k][d]
                dir.backward(batch, x: layerInputs[k], dOut: dAbove.map { $0 + d * h }, ldOut: 2 * h,
                             dFinal: top ? UnsafePointer(dFinal[d].ptr) : nil, wih: p + o.wih, whh: p + o.whh,
                             dwih: g + o.wih, dwhh: g + o.whh, dbih: g + o.bih, dbhh: g + o.bhh,
                             dX: dInputs[k].ptr, dXBeta: d == 0 ? 0 : 1)
            }
            ready?.gradientsFinal(layerSpans[k])
            inputDropout[k].backward(dInputs[k].ptr, count: t * b * (k == 0 ? dim : 2 * h))
        }
        DocumentEmbedding.scatter(batch, d: dInputs[0].ptr, timeMajor: true, dim: dim, dTable: g + emb)
        ready?.gradientsFinal(embeddingSpan)
    }
}
