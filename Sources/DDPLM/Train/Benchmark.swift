import Dispatch
import Glibc

/// Times the real training step (forward, backward, gradient exchange, clip, Adam) on a synthetic token
/// stream, after warm-up, and the bare GEMM sequence of the decoder at the same shapes (the ceiling:
/// OpenBLAS's sgemm, or the bf16 kernel with `MatmulPrecision.medium`).
public enum Benchmark {
    public struct Config {
        var model: ModelConfig
        var batch: Int
        var bptt: Int
        var chunkRows: Int
        var steps: Int
        var warmup: Int
        var threads: ComputeThreads
        var seed: UInt64 = 1
        /// A barrier after each rank's compute (see `TrainingStep.barrierAfterCompute`).
        public var syncBeforeExchange = false
        /// The gradient reduce-scatter's wire format.
        public var gradientWire = GradientWire.fp32
        /// Overlap the exchange with the compute (the CLI passes `ExchangeOverlap`'s choice, as training does).
        public var overlap = true
        /// One copy of the weights for the ranks of one node (`NodeSharedWeights`).
        public var sharedWeights = NodeSharedWeights.auto
        /// Split the decoder by vocabulary rows (`VocabParallelDecoder`, tied also `VocabParallelEmbedding`; N ranks).
        public var vocabParallel = false
        /// One rank: record the timed steps' compute for a replay on this many ranks (`Timing.trace`).
        public var recordFor: Int?
        /// Replace each rank's compute with this recorded one (`ComputeTrace.replay`).
        public var replay: ComputeTrace?
        public init(model: ModelConfig, batch: Int, bptt: Int, chunkRows: Int, steps: Int, warmup: Int, threads: ComputeThreads) {
            self.model = model
            self.batch = batch
            self.bptt = bptt
            self.chunkRows = chunkRows
            self.steps = steps
            self.warmup = warmup
            self.threads = threads
        }
    }

    /// Multiply–adds ×2 of every GEMM in one training step of `rows` = b·T rows.
    public static func stepFlops(_ m: ModelConfig, rows: Int) -> Double {
        let r = Double(rows), h = Double(m.hidden), v = Double(m.vocabSize)
        var f = 3 * 2 * r * h * v  // decoder: logits, dW, dH
        for k in 0..<m.layers {
            let g = Double(m.cell.gates) * h, inp = Double(m.inputSize(layer: k))
            f += 3 * 2 * r * inp * g  // X W_ihᵀ, dW_ih, dX
            f += 3 * 2 * r * h * g    // h W_hhᵀ, dW_hh, dh
        }
        return f
    }

    public struct Timing {
        public var medianSeconds: Double
        /// Mean seconds per timed step in each phase (TrainingStep.phaseNames).
        public var phases: [Double]
        /// Median over the timed steps of one step's exchange: gradient reduce-scatter (with the small
        /// loss/stop all-reduce before it), norm all-reduce and weight all-gather.
        public var exchangeMedianSeconds: Double
        /// Median over the timed steps of the compute phase (forward + backward).
        public var computeMedianSeconds: Double
        /// Parameters, and the floats of one rank's shard (what each ring step of the exchange moves).
        public var parameters: Int
        public var shardFloats: Int
        /// The sparse embedding exchange at the last step (N ranks, untied table): rows in the union, the
        /// floats their packed block was padded to, and the floats of the packed row marks (all-reduced).
        public var sparseRows = 0
        public var sparsePackedFloats = 0
        public var markFloats = 0
        /// A vocab-parallel decoder's collectives: mean seconds per step (moved from the compute phase to
        /// the exchange in the medians and `phases`), and the bytes one rank sends per step.
        public var vocabCollectiveSeconds = 0.0
        public var vocabBytes = 0
        /// With `Config.recordFor`: the timed step whose compute was the median.
        public var trace: ComputeTrace?
        /// The exchange ran during the compute (asked for, N ranks, and a second channel).
        public var overlapped = false
        /// The ranks held one copy of the weights (`NodeSharedWeights`).
        public var sharedWeights = false
    }

    /// Median step time on this rank (all ranks take part; the step contains the exchange).
    public static func timeSteps(_ c: Config, comm: Communicator) throws -> Timing {
        let split = try BatchSplit(batch: c.batch, comm: comm)
        let b = split.columns
        let store = LanguageModel.store(c.model, ranks: comm.size, rank: comm.rank, vocabParallel: c.vocabParallel)
        let model = LanguageModel(config: c.model, store: store, batch: b, maxT: c.bptt, chunkRows: c.chunkRows, threads: c.threads, comm: comm)
        let stepper = TrainingStep(store: store, threads: c.threads, comm: comm, clip: 5, wire: c.gradientWire, overlap: c.overlap)
        if let t = c.replay, t.parameters != store.count {
            throw DDPLMError("the compute trace was recorded on a model of \(t.parameters) parameters, this one has \(store.count): record it with the same model options")
        }
        let recorder = c.recordFor.map { ComputeRecorder(plan: LanguageModel.store(c.model, ranks: $0, rank: 0)) }
        var traces: [ComputeTrace] = []
        stepper.barrierAfterCompute = c.syncBeforeExchange
        let clock = model.vocabParallel?.clock
        clock?.barrierFirst = c.syncBeforeExchange
        var vocabSeconds = 0.0, vocabBarriers = 0.0
        model.initialize(seed: c.seed)
        let shared = try stepper.shareWeights(c.sharedWeights)
        if shared { try model.sharePacks(comm: comm) }
        let carry = model.makeState()
        let x = UnsafeMutablePointer<Int32>.allocate(capacity: b * c.bptt), y = UnsafeMutablePointer<Int32>.allocate(capacity: b * c.bptt)
        defer { x.deallocate(); y.deallocate() }
        var rng = SplitMix64(seed: c.seed &+ UInt64(comm.rank))
        var times: [Double] = [], exchanges: [Double] = [], computes: [Double] = []
        times.reserveCapacity(c.steps)
        exchanges.reserveCapacity(c.steps)
        computes.reserveCapacity(c.steps)
        // (no allocation between steps: launch/count-step-allocs counts everything in the loop)
        func exchangeSoFar() -> Double { TrainingStep.exchangePhases.reduce(0) { $0 + stepper.phase($1) } }
        func computeSoFar() -> Double { stepper.phase(0) }
        for s in 0..<(c.warmup + c.steps) {
            for i in 0..<(b * c.bptt) {
                x[i] = Int32(2 + rng.next() % UInt64(c.model.vocabSize - 2))
                y[i] = Int32(2 + rng.next() % UInt64(c.model.vocabSize - 2))
            }
            try comm.barrier()
            if s == c.warmup { stepper.resetPhases() }
            let e0 = exchangeSoFar(), c0 = computeSoFar()
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try stepper.run(lr: 1e-3, adamStep: s + 1) { ready in
                if let trace = c.replay {
                    store.touched?.mark(x, count: b * c.bptt)  // the rows a real step marks before its `rowsMarked`
                    trace.replay(ready)
                    return trace.loss
                }
                recorder?.begin()
                let loss = try model.trainStep(x: x, y: y, t: c.bptt, state: carry,
                                               dropout: DropoutKey(seed: c.seed, step: UInt64(s), firstColumn: split.firstColumn),
                                               ready: recorder.map { $0 as ExchangeSchedule } ?? ready)
                recorder?.end(loss: loss)
                return loss
            }
            if let recorder, s >= c.warmup { traces.append(recorder.trace) }
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            // the vocab-parallel decoder's (and tied embedding's) collectives run inside the compute: they
            // are exchange time
            let vocab = clock?.take() ?? (collectives: 0, barriers: 0)
            if s >= c.warmup {
                times.append(dt)
                exchanges.append(exchangeSoFar() - e0 + vocab.collectives)
                computes.append(computeSoFar() - c0 - vocab.collectives - vocab.barriers)
                vocabSeconds += vocab.collectives
                vocabBarriers += vocab.barriers
            }
        }
        // the last all-gather may still be running on the exchange thread: it must end before MPI does
        try stepper.settle()
        func median(_ a: [Double]) -> Double { a.sorted()[a.count / 2] }
        var phases = stepper.phases
        phases[0] -= vocabSeconds + vocabBarriers
        phases[5] += vocabBarriers
        var timing = Timing(medianSeconds: median(times), phases: phases.map { $0 / Double(max(1, c.steps)) },
                      exchangeMedianSeconds: median(exchanges), computeMedianSeconds: median(computes),
                      parameters: store.count, shardFloats: store.shard.perRank, sparseRows: stepper.sparse?.lastRows ?? 0,
                      sparsePackedFloats: stepper.sparse?.lastPackedFloats ?? 0, markFloats: stepper.sparse?.markFloats ?? 0)
        timing.overlapped = stepper.overlapped != nil
        timing.sharedWeights = shared
        timing.vocabCollectiveSeconds = vocabSeconds / Double(max(1, c.steps))
        timing.vocabBytes = model.vocabBytesPerStep(rows: b * c.bptt)
        timing.trace = traces.sorted { $0.seconds < $1.seconds }.dropFirst(traces.count / 2).first
        return timing
    }

    /// The decoder's GEMMs alone (same chunking, no softmax): seconds per step, median of `repeats`.
    public static func gemmCeiling(_ c: Config, rows: Int, repeats: Int = 5) -> Double {
        let v = c.model.vocabSize, h = c.model.hidden, chunk = min(c.chunkRows, rows)
        var rng = SplitMix64(seed: 3)
        let hs = FloatBuffer(count: rows * h), w = FloatBuffer(count: v * h), dw = FloatBuffer(count: v * h)
        let logits = FloatBuffer(count: chunk * v), dh = FloatBuffer(count: rows * h)
        for i in 0..<hs.count { hs[i] = rng.nextFloat() - 0.5 }
        for i in 0..<w.count { w[i] = (rng.nextFloat() - 0.5) * 0.1 }
        for i in 0..<logits.count { logits[i] = (rng.nextFloat() - 0.5) * 1e-3 }
        var times: [Double] = []
        for _ in 0..<(repeats + 1) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            var r0 = 0
            while r0 < rows {
                let rc = min(chunk, rows - r0)
                gemm(transA: false, transB: true, m: rc, n: v, k: h, a: hs.ptr + r0 * h, lda: h, b: w.ptr, ldb: h, beta: 0, c: logits.ptr, ldc: v)
                gemm(transA: true, transB: false, m: v, n: h, k: rc, a: logits.ptr, lda: v, b: hs.ptr + r0 * h, ldb: h, beta: 1, c: dw.ptr, ldc: h)
                gemm(transA: false, transB: false, m: rc, n: h, k: v, a: logits.ptr, lda: v, b: w.ptr, ldb: h, beta: 0, c: dh.ptr + r0 * h, ldc: h)
                r0 += rc
            }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        times.removeFirst()
        times.sort()
        return times[times.count / 2]
    }

    /// Peak resident set size of this process in MB.
    public static var peakRSSMegabytes: Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_maxrss) / 1024
    }
}
