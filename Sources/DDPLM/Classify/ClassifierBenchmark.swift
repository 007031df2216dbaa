import Dispatch

/// Times a classifier's real training step (forward, backward, gradient exchange, clip, Adam) on synthetic
/// documents of random lengths in [minLength, maxLength], bucketed by length as in training. Tokens/s
/// counts document tokens, not padding.
public enum ClassifierBenchmark {
    public struct Config {
        var model: ClassifierConfig
        var batch: Int
        var minLength: Int
        var maxLength: Int
        var steps: Int
        var warmup: Int
        var seed: UInt64 = 1
        /// Overlap the exchange with the compute on N ranks (the CLI passes `ExchangeOverlap`'s choice, as training does).
        public var overlap = true
        /// One copy of the weights for the ranks of one node (`NodeSharedWeights`).
        public var sharedWeights = NodeSharedWeights.auto
        public init(model: ClassifierConfig, batch: Int, minLength: Int, maxLength: Int, steps: Int, warmup: Int) {
            self.model = model
            self.batch = batch
            self.minLength = minLength
            self.maxLength = maxLength
            self.steps = steps
            self.warmup = warmup
        }
    }

    public struct Timing {
        public var medianSeconds: Double
        /// Document tokens per second over all timed steps (the lengths are random, the batches bucketed).
        public var tokensPerSecond: Double
        public var phases: [Double]
    }

    public static func timeSteps(_ c: Config, threads: ComputeThreads, comm: Communicator) throws -> Timing {
        let total = c.warmup + c.steps
        var rng = SplitMix64(seed: c.seed)
        var docs = DocumentSet()
        // a fixed pool of documents, whatever the step count (so launch/count-step-allocs sees only the step)
        for _ in 0..<(32 * c.batch) {
            let n = c.minLength + Int(rng.next() % UInt64(c.maxLength - c.minLength + 1))
            docs.append((0..<n).map { _ in Int32(2 + rng.next() % UInt64(c.model.vocabSize - 2)) }, label: Int32(rng.next() % UInt64(c.model.classes)))
        }
        let plan = DocumentBatcher(docs: docs, batch: c.batch, seed: c.seed).plan(epoch: 0)
        let columns = (c.batch + comm.size - 1) / comm.size
        let store = ParameterStore(layout: TextClassifier.layout(c.model), ranks: comm.size, rank: comm.rank)
        let model = TextClassifier(config: c.model, store: store, maxColumns: columns, maxT: c.maxLength, threads: threads)
        model.initialize(seed: c.seed)
        let batch = DocumentBatch(maxColumns: columns, maxT: model.maxT)
        let stepper = TrainingStep(store: store, threads: threads, comm: comm, clip: 5, overlap: c.overlap)
        try stepper.shareWeights(c.sharedWeights)
        var times: [Double] = [], tokens = 0
        times.reserveCapacity(total)
        for s in 0..<total {
            let global = plan[s % plan.count]
            let share = DocumentBatcher.slice(count: global.count, rank: comm.rank, ranks: comm.size)
            global.withUnsafeBufferPointer {
                batch.fill(docs, order: $0.baseAddress! + share.lowerBound, count: share.count, firstColumn: share.lowerBound, minLength: c.model.minLength)
            }
            try comm.barrier()
            if s == c.warmup { stepper.resetPhases() }
            let t0 = DispatchTime.now().uptimeNanoseconds
            let scale = 1 / Float(global.count)
            _ = try stepper.run(lr: 1e-3, adamStep: s + 1) { ready in
                model.trainStep(batch, dropout: DropoutKey(seed: c.seed, step: UInt64(s), firstColumn: share.lowerBound), scale: scale,
                                ready: ready).loss
            }
            if s >= c.warmup {
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                tokens += global.reduce(0) { $0 + docs.length(Int($1)) }
            }
        }
        // the last all-gather may still be running on the exchange thread: it must end before MPI does
        try stepper.settle()
        let sorted = times.sorted()
        return Timing(medianSeconds: sorted[sorted.count / 2], tokensPerSecond: Double(tokens) / times.reduce(0, +),
                      phases: stepper.phases.map { $0 / Double(max(1, c.steps)) })
    }
}
