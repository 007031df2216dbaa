/// Embedding → dropout → `layers` × recurrent cell → dropout → fused decoder/softmax-CE, on the flat
/// buffers of a `ParameterStore`. `forward` records each layer's input; `backward` walks the same sites
/// in reverse, the way llm.c's gpt2_backward mirrors gpt2_forward.
///
/// Dropout sites: 0 is the embedding output, k (1 ≤ k < L) the input of layer k, L the decoder input.
public final class LanguageModel {
    let config: ModelConfig
    let store: ParameterStore
    let batch: Int
    let maxT: Int

    /// Offsets of the named tensors in the store.
    struct Offsets {
        let encoder: Int
        let decoderWeight: Int
        let decoderBias: Int
        let layers: [(wih: Int, whh: Int, bih: Int, bhh: Int)]
    }
    let at: Offsets

    let layers: [RecurrentLayer]
    /// The decoder on the whole weights (made in `init`, or with a vocab split at first use, which training
    /// and validation never make: its chunk of logits is 160 MB at V = 50002).
    private(set) lazy var decoder = Decoder(vocab: config.vocabSize, hidden: config.hidden, chunkRows: min(chunkRows, batch * maxT), threads: threads)
    private let chunkRows: Int
    private let threads: ComputeThreads
    /// The decoder when the store splits it by vocabulary rows (`--vocab-parallel`): training steps and
    /// validation, on every rank together.
    let vocabParallel: VocabParallelDecoder?
    /// Tied and split: the embedding's lookups go to the rows' owners.
    let vocabParallelEmbedding: VocabParallelEmbedding?
    /// The bytes the split's collectives (inside the compute) send per step with `n` rows per rank; their
    /// time is `vocabParallel.clock`'s.
    func vocabBytesPerStep(rows n: Int) -> Int {
        (vocabParallel?.bytesPerStep(rows: n) ?? 0) + (vocabParallelEmbedding?.bytesPerStep(rows: n) ?? 0)
    }
    let emb: FloatBuffer            // [T·b, E] embedding output
    let masks: [FloatBuffer]        // per dropout site
    let dropped: [FloatBuffer]      // the masked activations, per site
    /// Input of layer k (k < L) and of the decoder (k = L) in the last forward: `emb`, a layer's
    /// output, or `dropped[k]`. Backward reads these instead of re-deriving them.
    private var siteInputs: [UnsafeMutablePointer<Float>]
    private var droppedOut = false  // the last forward applied dropout
    /// The decoder's row order for the last listener asked (`ExchangeSchedule.rowOrder`), made once.
    private var decoderRowOrder: (listener: ObjectIdentifier, rows: [Range<Int>])?
    let dA: FloatBuffer             // ping-pong gradient buffers [T·b, max(E, H)]
    let dB: FloatBuffer
    /// The weights packed in node-shared memory (`sharePacks`). bf16 tiles: each layer's W_ih and W_hh, and
    /// the decoder's W (nil with a vocab split, whose decoder multiplies its own rows). float32 panels: each
    /// layer's W_hh, for the per-step products (the other products call `gemm`, which packs as it goes).
    private var packs: (all: WeightPacks, layers: [(wih: WeightPacks.Entry?, whh: WeightPacks.Entry)], decoder: WeightPacks.Entry?)?

    /// PyTorch word_language_model's `state_dict`: encoder.weight, rnn.{weight_ih, weight_hh, bias_ih,
    /// bias_hh}_l{k}, decoder.weight (an alias of encoder.weight when tied), decoder.bias.
    static func layout(_ c: ModelConfig) -> ParameterLayout {
        var l = ParameterLayout()
        let g = c.cell.gates * c.hidden
        l.add("encoder.weight", [c.vocabSize, c.embedding], sparseRows: true)
        for k in 0..<c.layers {
            l.add("rnn.weight_ih_l\(k)", [g, c.inputSize(layer: k)])
            l.add("rnn.weight_hh_l\(k)", [g, c.hidden])
            l.add("rnn.bias_ih_l\(k)", [g])
            l.add("rnn.bias_hh_l\(k)", [g])
        }
        if c.tieWeights { l.alias("decoder.weight", of: "encoder.weight") } else { l.add("decoder.weight", [c.vocabSize, c.hidden]) }
        l.add("decoder.bias", [c.vocabSize])
        return l
    }

    /// Rank `rank`'s store for `ranks` ranks; with `vocabParallel`, the decoder split by vocabulary rows
    /// (`--vocab-parallel`; tied, the embedding table with it), except on one rank or with fewer rows than
    /// ranks. `piece`: the optimizer shard's piece (tests; `ParameterStore`).
    static func store(_ c: ModelConfig, ranks: Int, rank: Int, vocabParallel: Bool = false, piece: Int? = nil) -> ParameterStore {
        let l = layout(c)
        let split = vocabParallel && ranks > 1 && c.vocabSize >= ranks
            ? VocabSplit(weight: l.offset("decoder.weight"), bias: l.offset("decoder.bias"), rows: c.vocabSize, width: c.hidden, ranks: ranks)
            : nil
        return ParameterStore(layout: l, ranks: ranks, rank: rank, vocabSplit: split, piece: piece)
    }

    /// `store` must have been built from `LanguageModel.layout(config)` (for any rank count); without
    /// one the model gets its own single-rank store. A store with a `vocabSplit` needs `comm`.
    init(config: ModelConfig, store: ParameterStore? = nil, batch: Int, maxT: Int, chunkRows: Int = RunConfig.TrainingConfig().chunkRows,
                threads: ComputeThreads = .one, comm: Communicator? = nil) {
        let layout = LanguageModel.layout(config)
        let store = store ?? ParameterStore(layout: layout)
        precondition(store.layout.specs == layout.specs, "parameter store built for another model")
        self.config = config
        self.store = store
        self.batch = batch
        self.maxT = maxT
        at = Offsets(encoder: layout.offset("encoder.weight"), decoderWeight: layout.offset("decoder.weight"),
                     decoderBias: layout.offset("decoder.bias"),
                     layers: (0..<config.layers).map {
                         (layout.offset("rnn.weight_ih_l\($0)"), layout.offset("rnn.weight_hh_l\($0)"),
                          layout.offset("rnn.bias_ih_l\($0)"), layout.offset("rnn.bias_hh_l\($0)"))
                     })
        let rows = batch * maxT
        layers = (0..<config.layers).map {
            RecurrentLayer(cell: config.cell, input: config.inputSize(layer: $0), hidden: config.hidden, batch: batch, maxT: maxT, threads: threads)
        }
        self.chunkRows = chunkRows
        self.threads = threads
        if let split = store.vocabSplit {
            guard let comm else { preconditionFailure("a vocab-split store needs the communicator") }
            let splitDecoder = VocabParallelDecoder(split: split, comm: comm, rows: rows, chunkRows: chunkRows, threads: threads)
            vocabParallel = splitDecoder
            vocabParallelEmbedding = split.weightAtFront ? VocabParallelEmbedding(split: split, comm: comm, rows: rows, clock: splitDecoder.clock) : nil
        } else {
            vocabParallel = nil
            vocabParallelEmbedding = nil
        }
        emb = FloatBuffer(count: rows * config.embedding)
        let useDropout = config.dropout > 0
        masks = (0...config.layers).map { FloatBuffer(count: useDropout ? rows * config.inputSize(layer: $0) : 0) }
        dropped = (0...config.layers).map { FloatBuffer(count: useDropout ? rows * config.inputSize(layer: $0) : 0) }
        siteInputs = Array(repeating: emb.ptr, count: config.layers + 1)
        let wide = max(config.embedding, config.hidden)
        dA = FloatBuffer(count: rows * wide)
        dB = FloatBuffer(count: rows * wide)
        if vocabParallel == nil { _ = decoder }  // before the first step: it uses it
    }

    var layout: ParameterLayout { store.layout }
    private var params: FloatBuffer { store.params }
    private var grads: FloatBuffer { store.grads }

    func makeState() -> RecurrentState {
        RecurrentState(layers: config.layers, batch: batch, hidden: config.hidden, lstm: config.cell == .lstm)
    }

    /// PyTorch's default initialisation: Embedding N(0, 1); every recurrent and Linear weight and bias
    /// U(−1/√H, 1/√H). Deterministic in `seed`.
    func initialize(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let bound = 1 / Float(config.hidden).squareRoot()
        for spec in layout.stored {
            let p = params.ptr + spec.offset
            if spec.name == "encoder.weight" {
                for i in 0..<spec.count { p[i] = rng.nextGaussian() }
            } else {
                for i in 0..<spec.count { p[i] = (rng.nextFloat() * 2 - 1) * bound }
            }
        }
    }

    /// Whether `sharePacks` shares anything once the weights are node-shared: with bf16 products
    /// (`MatmulPrecision.medium`) every weight's tiles, in float32 the recurrent weights' panels when the
    /// per-step products are packed (`PackedMatrix.enabled`, windows longer than one step).
    var sharesPacks: Bool { MatmulPrecision.current == .medium || (PackedMatrix.enabled && maxT > 1) }

    /// Once the weights are node-shared (`ParameterStore.nodeShared`) and `sharesPacks`: the ranks pack the
    /// weights together, into node-shared memory, once per training step (`WeightPacks`). A collective;
    /// false when nothing is shared.
    @discardableResult
    func sharePacks(comm: Communicator) throws -> Bool {
        guard packs == nil, store.nodeShared, sharesPacks else { return packs != nil }
        let bf16 = MatmulPrecision.current == .medium
        let g = config.cell.gates * config.hidden
        var weights: [(offset: Int, rows: Int, cols: Int)] = []
        for (k, o) in at.layers.enumerated() {
            if bf16 { weights.append((o.wih, g, config.inputSize(layer: k))) }
            weights.append((o.whh, g, config.hidden))
        }
        if bf16 && vocabParallel == nil { weights.append((at.decoderWeight, config.vocabSize, config.hidden)) }
        guard let all = try WeightPacks(weights: weights, comm: comm) else { return false }
        packs = (all, at.layers.map { (bf16 ? all.entry(at: $0.wih) : nil, all.entry(at: $0.whh)) },
                 bf16 && vocabParallel == nil ? all.entry(at: at.decoderWeight) : nil)
        return true
    }

    // MARK: forward / backward

    /// Dropout at `site` on `raw` (when training with dropout), recorded as that site's input.
    private func enterSite(_ site: Int, _ raw: UnsafeMutablePointer<Float>, t: Int, dropout: DropoutKey?) {
        var input = raw
        if let key = dropout, config.dropout > 0 {
            let w = config.inputSize(layer: site)
            Dropout.makeMask(masks[site].ptr, t: t, b: batch, width: w, p: config.dropout, seed: key.seed,
                             step: key.step, site: UInt64(site), firstColumn: key.firstColumn)
            Dropout.apply(raw, masks[site].ptr, dropped[site].ptr, t * batch * w)
            input = dropped[site].ptr
        }
        siteInputs[site] = input
    }

    /// Embedding and recurrent layers over one window; returns the decoder input [T·b, H] and moves
    /// `state` to the window's end. With `schedule`, each layer first awaits its weights. `packed`: the
    /// layers multiply by the shared packs (refreshed for this step). Throws only with a tied vocab split
    /// (its lookups are collectives).
    func forward(x: UnsafePointer<Int32>, t: Int, state: RecurrentState, dropout: DropoutKey?,
                 schedule: ExchangeSchedule? = nil, packed: Bool = false) throws -> UnsafeMutablePointer<Float> {
        precondition(t >= 1 && t <= maxT && state.batch == batch)
        let p = store.params(awaitingWith: schedule).ptr, h = config.hidden
        droppedOut = dropout != nil && config.dropout > 0
        schedule?.awaitParameters(at.encoder..<at.encoder + config.vocabSize * config.embedding)
        if let vocabParallelEmbedding {
            try vocabParallelEmbedding.forward(ids: x, n: t * batch, table: p + at.encoder, out: emb.ptr)
        } else {
            Embedding.forward(ids: x, n: t * batch, table: p + at.encoder, dim: config.embedding, out: emb.ptr)
        }
        enterSite(0, emb.ptr, t: t, dropout: dropout)
        for (k, layer) in layers.enumerated() {
            let o = at.layers[k]
            // W_ih (it ends where W_hh starts) first: the input projection's product runs while the
            // all-gather brings W_hh and the biases
            schedule?.awaitParameters(o.wih..<o.whh)
            layer.forward(t: t, x: siteInputs[k], h0: state.hPtr(k), c0: state.cPtr(k),
                          wih: p + o.wih, whh: p + o.whh, bih: p + o.bih, bhh: p + o.bhh, packs: packed ? packs?.layers[k] : nil) {
                schedule?.awaitParameters(o.whh..<o.bhh + config.cell.gates * h)
            }
            state.hPtr(k).update(from: layer.finalH(t: t), count: batch * h)
            if config.cell == .lstm { state.cPtr(k).update(from: layer.finalC(t: t), count: batch * h) }
            enterSite(k + 1, layer.output, t: t, dropout: dropout)
        }
        return siteInputs[config.layers]
    }

    /// The mirror of `forward`: from dTop (the gradient at the decoder input, in `dA`) back through each
    /// site's dropout and layer to the embedding table. Accumulates into `grads`, and tells `ready` as
    /// each layer's gradients become final. `packed` as for `forward`. Throws only with a tied vocab split.
    func backward(x: UnsafePointer<Int32>, t: Int, ready: ExchangeSchedule? = nil, packed: Bool = false) throws {
        let rows = t * batch, p = params.ptr, g = grads.ptr
        var dOut = dA.ptr, dIn = dB.ptr
        if droppedOut { Dropout.backward(dOut, masks[config.layers].ptr, rows * config.hidden) }
        var embeddingError: Error?
        for k in stride(from: config.layers - 1, through: 0, by: -1) {
            let o = at.layers[k], dX = dIn
            // each weight's gradient goes to the exchange as soon as it is complete, before the layer's dX;
            // in the first layer after it: the embedding's gradient is finished from dX first, so that its
            // exchange runs while this layer's weight gradients are computed
            layers[k].backward(t: t, x: siteInputs[k], dOut: dOut, dX: dIn, wih: p + o.wih, whh: p + o.whh,
                               dwih: g + o.wih, dwhh: g + o.whh, dbih: g + o.bih, dbhh: g + o.bhh,
                               packs: packed ? packs?.layers[k] : nil,
                               final: { gradient, count in ready?.gradientsFinal(gradient - g..<gradient - g + count) },
                               inputGradientFirst: k == 0, inputGradientReady: {
                if droppedOut { Dropout.backward(dX, masks[0].ptr, rows * config.inputSize(layer: 0)) }
                do { try embeddingBackward(x: x, rows: rows, dOut: dX, ready: ready) } catch { embeddingError = error }
            })
            if k > 0, droppedOut { Dropout.backward(dIn, masks[k].ptr, rows * config.inputSize(layer: k)) }
            swap(&dOut, &dIn)
        }
        if let embeddingError { throw embeddingError }
    }

    /// The embedding's part of the backward, from the first layer's input gradient `dOut`.
    private func embeddingBackward(x: UnsafePointer<Int32>, rows: Int, dOut: UnsafeMutablePointer<Float>, ready: ExchangeSchedule?) throws {
        let g = grads.ptr
        if let vocabParallelEmbedding {
            try vocabParallelEmbedding.backward(n: rows, dOut: dOut, dTable: g + at.encoder)
        } else {
            Embedding.backward(ids: x, n: rows, dOut: dOut, dim: config.embedding, dTable: g + at.encoder)  // (rows marked by `trainStep`)
        }
        ready?.gradientsFinal(at.encoder..<at.encoder + config.vocabSize * config.embedding)
    }

    /// What the decoder tells `ready` (its dW only when untied: tied, the embedding's backward adds to it).
    private func decoderReadiness(_ ready: ExchangeSchedule?) -> Decoder.Readiness? {
        guard let ready else { return nil }
        let id = ObjectIdentifier(ready)
        if decoderRowOrder?.listener != id {
            decoderRowOrder = (id, ready.rowOrder(offset: at.decoderWeight, rows: config.vocabSize, width: config.hidden))
        }
        return Decoder.Readiness(listener: ready, weightOffset: at.decoderWeight, tied: config.tieWeights,
                                 biasOffset: at.decoderBias, rowOrder: decoderRowOrder!.rows)
    }

    /// Forward and backward over one window: returns the mean cross-entropy over its t·b positions and
    /// accumulates into the store's gradients this rank's share of the global batch's mean-loss gradient
    /// (that mean's gradient ÷ the store's rank count: summed over the ranks, the batch's).
    /// `state` enters as the carried (detached) hidden state and leaves as the window's final state.
    /// With `ready`, each gradient is reported as soon as it is final (see `ExchangeSchedule`).
    /// With node-shared packs (`sharePacks`), every rank first packs its share of the weights (a
    /// collective). Throws only with a vocab-parallel decoder or shared packs (their collectives).
    func trainStep(x: UnsafePointer<Int32>, y: UnsafePointer<Int32>, t: Int, state: RecurrentState,
                   dropout: DropoutKey?, ready: ExchangeSchedule? = nil) throws -> Double {
        let rows = t * batch, p = store.params(awaitingWith: ready).ptr, g = grads.ptr
        let packed = packs != nil && ready == nil
        if packed { try packs!.all.refresh(p, threads: threads.count) }
        // the table's rows this window's backward will write are its input tokens' (`Embedding.backward`):
        // marked now, their marks travel during the forward
        if let touched = store.touched, vocabParallelEmbedding == nil {
            touched.mark(x, count: rows)
            ready?.rowsMarked()
        }
        let top = try forward(x: x, t: t, state: state, dropout: dropout, schedule: ready, packed: packed)
        let dec = (w: p + at.decoderWeight, b: p + at.decoderBias), dGrad = (g + at.decoderWeight, g + at.decoderBias, dA.ptr)
        // the gradient of the global batch's mean loss: every rank scales by the same 1/(N·rows), so a
        // token's gradient is the same float on N ranks as in one process (also after a bf16 rounding)
        let gradScale = 1 / Float(rows * store.ranks)
        let loss: Double
        if let vocabParallel {
            // its first floats may be the sharded region's last (`ParameterStore.shardedEnd`): awaited and
            // reported like any other range
            for range in vocabParallel.split.spans { ready?.awaitParameters(range) }
            loss = try vocabParallel.lossAndGradient(rows: rows, h: top, targets: y, w: dec.w, bias: dec.b, scale: gradScale, grad: dGrad)
            for range in vocabParallel.split.spans { ready?.gradientsFinal(range) }
        } else {
            loss = decoder.lossAndGradient(rows: rows, h: top, targets: y, w: dec.w, bias: dec.b, scale: gradScale, grad: dGrad,
                                           ready: decoderReadiness(ready), packs: packed ? packs?.decoder : nil)
        }
        try backward(x: x, t: t, ready: ready, packed: packed)
        return loss / Double(rows)
    }

    /// Summed cross-entropy over one window without gradients or dropout; advances `state`. With a vocab
    /// split, a collective (every rank evaluates its columns of the same window).
    func evaluate(x: UnsafePointer<Int32>, y: UnsafePointer<Int32>, t: Int, state: RecurrentState) throws -> Double {
        let p = params.ptr
        let top = try forward(x: x, t: t, state: state, dropout: nil)
        if let vocabParallel {
            return try vocabParallel.lossAndGradient(rows: t * batch, h: top, targets: y, w: p + at.decoderWeight, bias: p + at.decoderBias,
                                                     scale: 1, grad: nil)
        }
        return decoder.lossAndGradient(rows: t * batch, h: top, targets: y, w: p + at.decoderWeight,
                                       bias: p + at.decoderBias, scale: 1, grad: nil)
    }

    /// Feeds one token per column (t = 1) and writes the next-token logits of column 0 into `out` [V].
    /// A whole (unsplit) model only: generation runs in one process.
    func nextLogits(tokens: UnsafePointer<Int32>, state: RecurrentState, out: UnsafeMutablePointer<Float>) {
        precondition(vocabParallel == nil, "generation runs on a whole model, not a vocab-split one")
        let p = params.ptr
        let top = try! forward(x: tokens, t: 1, state: state, dropout: nil)  // (throws only when split)
        decoder.logitsRow(h: top, w: p + at.decoderWeight, bias: p + at.decoderBias, out: out)
    }

}
