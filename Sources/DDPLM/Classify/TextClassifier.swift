/// A text classifier on flat buffers: the embedding, a body (`WordAverageBody`, `BiLSTMBody` or
/// `ConvolutionBody`), and the final Linear `fc` with its loss. Parameters are declared in PyTorch's
/// `state_dict` order under the reference modules' names (`launch/torch-classify.py`):
/// `embedding.weight`, the body's tensors, `fc.weight`, `fc.bias`. Buffers are sized once for
/// (maxColumns, maxT); a step allocates nothing.
final class TextClassifier {
    let config: ClassifierConfig
    let store: ParameterStore
    let body: ClassifierBody
    let maxColumns: Int
    let maxT: Int
    let fcWeight: Int
    let fcBias: Int
    /// fc.weight and fc.bias together (what the exchange schedule is told about).
    let fcSpan: Range<Int>
    let logits: FloatBuffer     // [b, outputs]
    let dLogits: FloatBuffer
    let dFeatures: FloatBuffer  // [b, featureWidth]

    static func layout(_ c: ClassifierConfig) -> ParameterLayout {
        var l = ParameterLayout()
        l.add("embedding.weight", [c.vocabSize, c.embedding], sparseRows: true)
        switch c.kind {
        case .wordavg: WordAverageBody.declare(c, &l)
        case .bilstm: BiLSTMBody.declare(c, &l)
        case .cnn: ConvolutionBody.declare(c, &l)
        }
        let features = c.kind == .wordavg ? c.hidden : c.kind == .bilstm ? 2 * c.hidden : c.filters * c.filterSizes.count
        l.add("fc.weight", [c.outputs, features])
        l.add("fc.bias", [c.outputs])
        return l
    }

    /// `store` must have been built from `layout(config)` (for any rank count); without one the model gets
    /// its own single-rank store. `maxT` bounds the padded length of a batch (at least `config.minLength`).
    init(config: ClassifierConfig, store: ParameterStore? = nil, maxColumns: Int, maxT: Int, threads: ComputeThreads = .one) {
        let layout = TextClassifier.layout(config)
        let store = store ?? ParameterStore(layout: layout)
        precondition(store.layout.specs == layout.specs, "parameter store built for another model")
        self.config = config
        self.store = store
        self.maxColumns = maxColumns
        self.maxT = max(maxT, config.minLength)
        switch config.kind {
        case .wordavg: body = WordAverageBody(config: config, store: store, maxColumns: maxColumns)
        case .bilstm: body = BiLSTMBody(config: config, store: store, maxColumns: maxColumns, maxT: self.maxT, threads: threads)
        case .cnn: body = ConvolutionBody(config: config, store: store, maxColumns: maxColumns, maxT: self.maxT)
        }
        fcWeight = layout.offset("fc.weight")
        fcBias = layout.offset("fc.bias")
        fcSpan = layout.span(["fc.weight", "fc.bias"])
        logits = FloatBuffer(count: maxColumns * config.outputs)
        dLogits = FloatBuffer(count: maxColumns * config.outputs)
        dFeatures = FloatBuffer(count: maxColumns * body.featureWidth)
    }

    /// PyTorch's default initialisation, drawn in layout order from one seeded stream: the embedding
    /// N(0, 1) with a zero `<pad>` row; LSTM tensors U(±1/√H); Linear and Conv1d weights and biases
    /// U(±1/√fan_in).
    func initialize(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let L = store.layout, p = store.params.ptr
        for spec in L.stored {
            let x = p + spec.offset
            if spec.name == "embedding.weight" {
                for i in 0..<spec.count { x[i] = rng.nextGaussian() }
                (x + Vocabulary.pad * config.embedding).update(repeating: 0, count: config.embedding)
                continue
            }
            let bound: Float
            if spec.name.hasPrefix("rnn.") {
                bound = 1 / Float(config.hidden).squareRoot()
            } else {
                let weight = spec.name.hasSuffix(".bias") ? L.spec(String(spec.name.dropLast(5)) + ".weight")! : spec
                bound = 1 / Float(weight.shape.dropFirst().reduce(1, *)).squareRoot()
            }
            for i in 0..<spec.count { x[i] = (rng.nextFloat() * 2 - 1) * bound }
        }
    }

    /// Logits of the batch ([columns, outputs] in `logits`); dropout on when `dropout` is given. With
    /// `schedule`, each part awaits its weights first (`ExchangeSchedule`).
    func forward(_ batch: DocumentBatch, dropout: DropoutKey?, schedule: ExchangeSchedule? = nil) {
        precondition(batch.columns <= maxColumns && batch.t <= maxT)
        guard batch.columns > 0 else { return }
        body.forward(batch, dropout: dropout, schedule: schedule)
        let p = store.params(awaitingWith: schedule).ptr
        schedule?.awaitParameters(fcSpan)
        Linear.forward(x: body.features, rows: batch.columns, input: body.featureWidth, output: config.outputs,
                       weight: p + fcWeight, bias: p + fcBias, out: logits.ptr)
    }

    /// Forward and backward with dropout: accumulates into the store's gradients `scale` × the gradient of
    /// the summed loss; returns the summed loss and the number right. With `ready`, the forward awaits
    /// weights and the backward reports final gradients (fc first, then the body's).
    func trainStep(_ batch: DocumentBatch, dropout: DropoutKey, scale: Float, ready: ExchangeSchedule? = nil) -> (loss: Double, correct: Int) {
        guard batch.columns > 0 else {
            // no documents here (an epoch's short last batch): the gradients are zero, so final now, and
            // reported as a rank with documents reports them (the exchange's collectives in one order)
            if let ready {
                if store.touched != nil { ready.rowsMarked() }
                ready.gradientsFinal(fcSpan)
                for range in body.reportedGradients { ready.gradientsFinal(range) }
            }
            return (0, 0)
        }
        // the table's rows the body's backward will write: marked now, their marks travel during the forward
        if let touched = store.touched {
            DocumentEmbedding.mark(batch, into: touched)
            ready?.rowsMarked()
        }
        forward(batch, dropout: dropout, schedule: ready)
        let r = ClassifierLoss.apply(logits: logits.ptr, labels: batch.labels, b: batch.columns, outputs: config.outputs,
                                     dLogits: dLogits.ptr, scale: scale)
        let g = store.grads.ptr, p = store.params(awaitingWith: ready).ptr
        Linear.backward(dOut: dLogits.ptr, x: body.features, rows: batch.columns, input: body.featureWidth, output: config.outputs,
                        weight: p + fcWeight, dWeight: g + fcWeight, dBias: g + fcBias, dX: dFeatures.ptr)
        ready?.gradientsFinal(fcSpan)
        body.backward(batch, dFeatures: dFeatures.ptr, ready: ready)
        return r
    }

    /// Forward without dropout over documents `order` of `docs`, in that order, `batch.maxColumns` at a time
    /// (each batch laid out as `order` has it: pass it longest first). After each forward `body` gets the
    /// batch's documents (column j is the j-th), with their logits in `logits`.
    func forwardInBatches(_ docs: DocumentSet, order: [Int32], batch: DocumentBatch, _ body: (ArraySlice<Int32>) throws -> Void) throws {
        var start = 0
        while start < order.count {
            let count = min(batch.maxColumns, order.count - start)
            let longest = order[start..<(start + count)].map { docs.length(Int($0)) }.max()!
            guard longest <= batch.maxT else {
                throw DDPLMError("a document has \(longest) tokens; the model's buffers hold \(batch.maxT)")
            }
            order.withUnsafeBufferPointer {
                batch.fill(docs, order: $0.baseAddress! + start, count: count, firstColumn: 0, minLength: config.minLength)
            }
            forward(batch, dropout: nil)
            try body(order[start..<(start + count)])
            start += count
        }
    }
}
