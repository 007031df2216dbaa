/// Hidden state carried between windows: h (and c for LSTM) for every layer, [layers, b, H].
public final class RecurrentState {
    public let layers: Int
    public let batch: Int
    public let hidden: Int
    public let h: FloatBuffer
    public let c: FloatBuffer

    public init(layers: Int, batch: Int, hidden: Int, lstm: Bool) {
        self.layers = layers
        self.batch = batch
        self.hidden = hidden
        h = FloatBuffer(count: layers * batch * hidden)
        c = FloatBuffer(count: lstm ? layers * batch * hidden : 0)
    }

    public func reset() {
        h.zero()
        c.zero()
    }

    func hPtr(_ k: Int) -> UnsafeMutablePointer<Float> { h.ptr + k * batch * hidden }
    func cPtr(_ k: Int) -> UnsafeMutablePointer<Float> { c.count == 0 ? h.ptr : c.ptr + k * batch * hidden }
}

/// Which dropout masks to draw: masks are a pure function of these (see `Dropout`).
public struct DropoutKey: Sendable {
    public var seed: UInt64
    public var step: UInt64
    public var firstColumn: Int
    public init(seed: UInt64, step: UInt64, firstColumn: Int) {
        self.seed = seed
        self.step = step
        self.firstColumn = firstColumn
    }
}

/// Embedding → recurrent layers → dropout → fused decoder/softmax-CE, on flat buffers.
/// `params` holds every weight in `layout` order and `grads` the same layout; both may be padded with
/// zeros past `parameterCount` (to `capacity`) so they split evenly into per-rank optimizer shards.
public final class LanguageModel {

    public let config: ModelConfig
    public let layout: ParameterLayout
    public let params: FloatBuffer
    public let grads: FloatBuffer
    public let batch: Int
    public let maxT: Int
    /// Threads for the elementwise work outside BLAS (softmax rows, Adam).
    public let threads: Int

    let layers: [RecurrentLayer]
    let decoder: Decoder
    let emb: FloatBuffer            // [T·b, E]
    let masks: [FloatBuffer]        // site 0: embedding output, 1..<L: between layers, L: before decoder
    let dropped: [FloatBuffer]      // the masked activations, same sites
    let dA: FloatBuffer             // ping-pong gradient buffers [T·b, max(E, H)]
    let dB: FloatBuffer

    public init(config: ModelConfig, batch: Int, maxT: Int, chunkRows: Int = 800, threads: Int = 1, capacity: Int = 0) {
        self.config = config
        layout = ParameterLayout(config)
        params = FloatBuffer(count: max(layout.count, capacity))
        grads = FloatBuffer(count: max(layout.count, capacity))
        self.batch = batch
        self.maxT = maxT
        self.threads = max(1, threads)
        let rows = batch * maxT
        layers = (0..<config.layers).map {
            RecurrentLayer(cell: config.cell, input: config.inputSize(layer: $0), hidden: config.hidden, batch: batch, maxT: maxT)
        }
        decoder = Decoder(vocab: config.vocabSize, hidden: config.hidden, chunkRows: min(chunkRows, rows), threads: self.threads)
        emb = FloatBuffer(count: rows * config.embedding)
        let useDropout = config.dropout > 0
        masks = (0...config.layers).map { FloatBuffer(count: useDropout ? rows * ($0 == 0 ? config.embedding : config.hidden) : 0) }
        dropped = (0...config.layers).map { FloatBuffer(count: useDropout ? rows * ($0 == 0 ? config.embedding : config.hidden) : 0) }
        let wide = max(config.embedding, config.hidden)
        dA = FloatBuffer(count: rows * wide)
        dB = FloatBuffer(count: rows * wide)
    }

    public var parameterCount: Int { layout.count }

    public func makeState() -> RecurrentState {
        RecurrentState(layers: config.layers, batch: batch, hidden: config.hidden, lstm: config.cell == .lstm)
    }

    /// PyTorch's default initialisation: Embedding N(0, 1); every recurrent and Linear weight and bias
    /// U(−1/√H, 1/√H). Deterministic in `seed`.
    public func initialize(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let bound = 1 / Float(config.hidden).squareRoot()
        for spec in layout.specs where !spec.isAlias {
            let p = params.ptr + spec.offset
            if spec.name == "encoder.weight" {
                for i in 0..<spec.count { p[i] = rng.nextGaussian() }
            } else {
                for i in 0..<spec.count { p[i] = (rng.nextFloat() * 2 - 1) * bound }
            }
        }
    }

    private func width(site: Int) -> Int { site == 0 ? config.embedding : config.hidden }

    /// Input of layer `site` (or of the decoder when site == layers), after dropout when training.
    private func siteInput(_ site: Int, raw: UnsafeMutablePointer<Float>, t: Int, dropout: DropoutKey?) -> UnsafeMutablePointer<Float> {
        guard let key = dropout, config.dropout > 0 else { return raw }
        let w = width(site: site)
        Dropout.makeMask(masks[site].ptr, t: t, b: batch, width: w, p: config.dropout, seed: key.seed,
                         step: key.step, site: UInt64(site), firstColumn: key.firstColumn)
        Dropout.apply(raw, masks[site].ptr, dropped[site].ptr, t * batch * w)
        return dropped[site].ptr
    }

    /// Embedding and recurrent layers; returns the decoder input and moves `state` to the window's end.
    private func forwardBody(x: UnsafePointer<Int32>, t: Int, state: RecurrentState, dropout: DropoutKey?) -> UnsafeMutablePointer<Float> {
        precondition(t >= 1 && t <= maxT && state.batch == batch)
        let p = params.ptr
        Embedding.forward(ids: x, n: t * batch, table: p + layout.encoderWeight, dim: config.embedding, out: emb.ptr)
        var input = siteInput(0, raw: emb.ptr, t: t, dropout: dropout)
        for (k, layer) in layers.enumerated() {
            let o = layout.layerOffsets[k]
            layer.forward(t: t, x: input, h0: state.hPtr(k), c0: state.cPtr(k),
                          wih: p + o.wih, whh: p + o.whh, bih: p + o.bih, bhh: p + o.bhh)
            state.hPtr(k).update(from: layer.finalH(t: t), count: batch * config.hidden)
            if config.cell == .lstm { state.cPtr(k).update(from: layer.finalC(t: t), count: batch * config.hidden) }
            input = siteInput(k + 1, raw: layer.output, t: t, dropout: dropout)
        }
        return input
    }

    /// Forward and backward over one window: returns the summed cross-entropy over its t·b positions and
    /// accumulates into `grads` the gradient of the *mean* (each position weighted 1/(t·b)).
    /// `state` enters as the carried (detached) hidden state and leaves as the window's final state.
    public func trainStep(x: UnsafePointer<Int32>, y: UnsafePointer<Int32>, t: Int, state: RecurrentState,
                          dropout: DropoutKey?) -> Double {
        let rows = t * batch, hd = config.hidden, p = params.ptr, g = grads.ptr
        let top = forwardBody(x: x, t: t, state: state, dropout: dropout)
        let loss = decoder.lossAndGradient(
            rows: rows, h: top, targets: y, w: p + layout.decoderWeight, bias: p + layout.decoderBias,
            scale: 1 / Float(rows), grad: (g + layout.decoderWeight, g + layout.decoderBias, dA.ptr))
        var dOut = dA.ptr, dIn = dB.ptr
        let useDropout = dropout != nil && config.dropout > 0
        if useDropout { Dropout.backward(dOut, masks[config.layers].ptr, rows * hd) }
        for k in stride(from: config.layers - 1, through: 0, by: -1) {
            let o = layout.layerOffsets[k]
            let x = k == 0 ? UnsafePointer(useDropout ? dropped[0].ptr : emb.ptr)
                           : UnsafePointer(useDropout ? dropped[k].ptr : layers[k - 1].output)
            layers[k].backward(t: t, x: x, dOut: dOut, dX: dIn, wih: p + o.wih, whh: p + o.whh,
                               dwih: g + o.wih, dwhh: g + o.whh, dbih: g + o.bih, dbhh: g + o.bhh)
            if useDropout { Dropout.backward(dIn, masks[k].ptr, rows * width(site: k)) }
            swap(&dOut, &dIn)
        }
        Embedding.backward(ids: x, n: rows, dOut: dOut, dim: config.embedding, dTable: g + layout.encoderWeight)
        return loss
    }

    /// Summed cross-entropy over one window without gradients or dropout; advances `state`.
    public func evaluate(x: UnsafePointer<Int32>, y: UnsafePointer<Int32>, t: Int, state: RecurrentState) -> Double {
        let p = params.ptr
        let top = forwardBody(x: x, t: t, state: state, dropout: nil)
        return decoder.lossAndGradient(rows: t * batch, h: top, targets: y, w: p + layout.decoderWeight,
                                       bias: p + layout.decoderBias, scale: 1, grad: nil)
    }

    /// Feeds one token per column (t = 1) and writes the next-token logits of column 0 into `out` [V].
    public func nextLogits(tokens: UnsafePointer<Int32>, state: RecurrentState, out: UnsafeMutablePointer<Float>) {
        let p = params.ptr
        let top = forwardBody(x: tokens, t: 1, state: state, dropout: nil)
        decoder.logitsRow(h: top, w: p + layout.decoderWeight, bias: p + layout.decoderBias, out: out)
    }

    public func zeroGradients() { grads.zero() }
}
