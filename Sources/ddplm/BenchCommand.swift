import ArgumentParser
import DDPLM
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the training step and print JSON (tokens/s, step ms, GFLOP/s, peak RSS, BLAS core).",
        discussion: """
        Times the real step: forward, backward, gradient all-reduce, clipping and Adam, on random tokens, \
        after --warmup steps; reports the median of --steps. Defaults are the reference config \
        (V = 50002, batch 32, bptt 50, E = H = 100, LSTM). Under mpirun, --batch is global and the JSON \
        (printed by rank 0) covers all ranks. --gemm also times the decoder's three GEMM calls \
        alone at the same shapes and chunking (cblas_sgemm, or the bf16 kernel with --matmul-precision medium): \
        the ceiling the step could reach.

        --task classify times a classifier's step instead (--model wordavg|bilstm|cnn, the lecture's sizes \
        by default: V = 25002, batch 64, E = 100, BiLSTM H = 256 × 2 layers, CNN 100 filters × 3,4,5) on \
        documents of random lengths in [--len-min, --len-max], bucketed as in training; tokens/s counts \
        document tokens. launch/torch-classify.py bench times PyTorch's reference models the same way.
        """
    )

    @Option(help: "lm (the language model) or classify.") var task: BenchTask = .lm
    @Option(help: "Vocabulary size V (default 50002; classify 25002).") var vocab: Int?
    @Option(help: "Global batch (default \(ConfigDefaults.data.batch); classify 64).") var batch: Int?
    @Option(help: "Window length.") var bptt: Int = ConfigDefaults.data.bptt
    @Option(help: "Embedding size.") var emb: Int = ConfigDefaults.model.embedding
    @Option(help: "Hidden size (default \(ConfigDefaults.model.hidden); classify: the model's).") var hidden: Int?
    @Option(help: "Layers (default \(ConfigDefaults.model.layers); classify: the model's).") var layers: Int?
    @Option(help: "lstm, gru or rnn_tanh.") var cell: CellType = ConfigDefaults.model.cell
    @Option(help: "Dropout, masks drawn as in training (default \(ConfigDefaults.model.dropout); classify: the model's).") var dropout: Float?
    @Flag(help: "Tie the decoder weight to the embedding.") var tieWeights = false
    @Option(help: "Timed steps.") var steps: Int = 20
    @Option(help: "Untimed warm-up steps.") var warmup: Int = 3
    @Option(help: "Rows per decoder chunk.") var chunkRows: Int = ConfigDefaults.training.chunkRows
    @Flag(help: "Also measure the sgemm ceiling on the decoder's shapes.") var gemm = false
    @Option(help: "classify: wordavg, bilstm or cnn.") var model: ClassifierKind = .bilstm
    @Option(help: "classify: CNN filters per width.") var filters: Int = 100
    @Option(help: "classify: shortest document.") var lenMin: Int = 50
    @Option(help: "classify: longest document.") var lenMax: Int = 400
    @Flag(help: ArgumentHelp("Barrier after each rank's backward pass, timed apart (ms_rank_wait).",
                             discussion: "The exchange phases then time the network alone, not the wait for the slowest rank's compute: for emulated hosts oversubscribed on few cores (launch/bench-scaleout).")) var syncBeforeExchange = false
    @Option(help: "Gradient reduce-scatter wire format: fp32 or bf16.") var gradWire: GradientWire = .fp32
    @Flag(help: "On N ranks, split the decoder by vocabulary rows (train's --vocab-parallel).") var vocabParallel = false
    @Option(help: ArgumentHelp("The recurrent layers' per-step products: packed or blas (default: packed with AVX2 or AVX-512).",
                               discussion: "blas calls cblas_sgemm at every time step, which packs W_hh again each time; to measure what the packed kernel saves.")) var recurrentGemm: RecurrentGEMM?
    @Option(help: ArgumentHelp("lm, one rank: write the median timed step's compute to FILE, for --replay-compute.",
                               discussion: "Records, with their timing, the forward's waits for weights and the backward's hand-overs of final gradients, at the per-rank batch you give (--batch B/N for a replay on N ranks).",
                               valueName: "FILE")) var recordCompute: String?
    @Option(help: "With --record-compute: the ranks the replay will run on (the decoder's rows are finished in their exchange's order).") var recordRanks: Int = 2
    @Option(help: ArgumentHelp("lm: replace each rank's forward and backward by the compute recorded in FILE (--record-compute): it sleeps as long as that compute ran, awaiting weights and handing gradients over when it did.",
                               discussion: "The exchange then has the cores to itself, as on a cluster with one rank per node: launch/bench-scaleout --replay measures emulated hosts this way.",
                               valueName: "FILE")) var replayCompute: String?
    @OptionGroup var runtime: RuntimeOptions
    @OptionGroup var exchange: ExchangeOptions

    enum BenchTask: String, ExpressibleByArgument { case lm, classify }

    var vocabSize: Int { vocab ?? (task == .lm ? 50002 : 25002) }
    var globalBatch: Int { batch ?? (task == .lm ? ConfigDefaults.data.batch : 64) }

    var languageModel: ModelConfig {
        ModelConfig(vocabSize: vocabSize, embedding: emb, hidden: hidden ?? ConfigDefaults.model.hidden,
                    layers: layers ?? ConfigDefaults.model.layers, cell: cell, dropout: dropout ?? ConfigDefaults.model.dropout,
                    tieWeights: tieWeights)
    }

    /// The classifier: the lecture's sizes unless given.
    var classifier: ClassifierConfig {
        var c = ClassifierConfig(kind: model, vocabSize: vocabSize, classes: 2)
        c.embedding = emb
        if let hidden { c.hidden = hidden }
        if let layers { c.layers = layers }
        if let dropout { c.dropout = dropout }
        c.filters = filters
        return c
    }

    func validate() throws {
        for (v, name) in [(bptt, "--bptt"), (steps, "--steps"), (chunkRows, "--chunk-rows")] where v <= 0 {
            throw DDPLMError("\(name) must be positive (got \(v))")
        }
        if task == .lm { try languageModel.validate() } else { try classifier.validate() }
        if lenMin <= 0 || lenMax < lenMin { throw DDPLMError("--len-min must be positive and at most --len-max") }
        if recordCompute != nil || replayCompute != nil {
            if task == .classify { throw DDPLMError("--record-compute and --replay-compute time the language model's step (--task lm)") }
            if recordCompute != nil && replayCompute != nil { throw DDPLMError("give --record-compute or --replay-compute, not both") }
            if recordRanks < 2 { throw DDPLMError("--record-ranks must be at least 2 (got \(recordRanks))") }
            if replayCompute != nil && vocabParallel { throw DDPLMError("--replay-compute cannot replay --vocab-parallel's collectives, which run inside the compute") }
        }
    }

    func run() throws {
        Runtime.guarded { comm in
            let (c, threads) = try Runtime.start(&comm, runtime)
            if let recurrentGemm { RecurrentGEMM.current = recurrentGemm }
            if task == .classify { return try runClassifier(c, threads) }
            let model = self.languageModel
            let batch = globalBatch, vocab = vocabSize, hidden = model.hidden
            var cfg = Benchmark.Config(model: model, batch: batch, bptt: bptt, chunkRows: chunkRows, steps: steps,
                                       warmup: max(0, warmup), threads: threads)
            cfg.syncBeforeExchange = syncBeforeExchange
            cfg.gradientWire = gradWire
            cfg.overlap = exchange.overlap.enabled(nodes: c.nodes)
            cfg.sharedWeights = exchange.sharedWeights
            cfg.vocabParallel = vocabParallel
            if recordCompute != nil {
                guard c.size == 1 else { throw DDPLMError("--record-compute runs on one rank, at the per-rank batch (not under mpirun)") }
                cfg.recordFor = recordRanks
            }
            if let replayCompute {
                let trace = try ComputeTrace.read(replayCompute)
                guard trace.ranks == c.size else {
                    throw DDPLMError(c.size == 1 ? "--replay-compute replays a rank's compute on N ranks, under mpirun ('\(replayCompute)' is for \(trace.ranks))"
                                                 : "'\(replayCompute)' was recorded for \(trace.ranks) ranks, and this job has \(c.size) (give --record-ranks \(c.size) when recording)")
                }
                cfg.replay = trace
            }
            let timing = try Benchmark.timeSteps(cfg, comm: c)
            if let recordCompute, let trace = timing.trace { try trace.write(recordCompute) }
            let rowsPerRank = batch / c.size * bptt
            let flops = Benchmark.stepFlops(model, rows: rowsPerRank) * Double(c.size)
            var rss = [Benchmark.peakRSSMegabytes]
            rss = try c.allReduceSum(rss)
            var fields: [(String, Any)] = [
                ("impl", "ddplm"), ("ranks", c.size), ("threads_per_rank", threads.count), ("blas_core", BLASInfo.coreName),
                ("blas_note", BLASSetup.note ?? "OpenBLAS's own choice"), ("blas_thread_timeout", BLASSetup.threadTimeoutNote),
                ("cell", cell.rawValue),
                ("vocab", vocab), ("batch", batch), ("bptt", bptt), ("emb", emb), ("hidden", hidden), ("layers", model.layers),
                ("dropout", Double("\(model.dropout)") ?? 0), ("tie_weights", tieWeights),
                ("chunk_rows", chunkRows), ("grad_wire", gradWire.rawValue), ("vocab_parallel", timing.vocabBytes > 0),
                ("nodes", c.nodes), ("overlap", timing.overlapped), ("shared_weights", timing.sharedWeights),
                ("recurrent_gemm", RecurrentGEMM.current == .packed ? "packed-" + RecurrentGEMM.kernelName : "blas"),
                ("matmul_precision", MatmulPrecision.current.rawValue + " (" + MatmulPrecision.current.kernelName + ")"), ("steps", steps),
                ("step_ms_median", (timing.medianSeconds * 1e5).rounded() / 100),
                ("tokens_per_s", (Double(batch * bptt) / timing.medianSeconds * 10).rounded() / 10),
                ("gflops", (flops / timing.medianSeconds / 1e7).rounded() / 100),
                ("peak_rss_mb", (rss[0] * 10).rounded() / 10),
                ("parameters", timing.parameters),
                ("ms_compute_median", (timing.computeMedianSeconds * 1e5).rounded() / 100),
                ("compute", replayCompute != nil ? "replayed" : "real"),
            ]
            if let trace = timing.trace { fields.append(("ms_recorded_compute", (trace.seconds * 1e5).rounded() / 100)) }
            for (name, secs) in zip(TrainingStep.phaseNames, timing.phases) where name != "rank_wait" || syncBeforeExchange {
                fields.append(("ms_" + name, (secs * 1e5).rounded() / 100))
            }
            if c.size > 1 {
                // the median step's exchange, of the slowest rank (every rank waits for it)
                var ex = [Double](repeating: 0, count: c.size)
                ex[c.rank] = timing.exchangeMedianSeconds
                ex = try c.allReduceSum(ex)
                fields.append(("ms_exchange_median", ((ex.max() ?? 0) * 1e5).rounded() / 100))
                // what one rank sends per step: N−1 blocks in the reduce-scatter (in the wire format), N−1
                // in the all-gather (fp32), the sparse embedding's row marks and its packed rows (each a ring
                // reduce-scatter + all-gather, fp32), plus the small all-reduces (a few doubles)
                let sparseBytes = 2 * 4 * (timing.markFloats + timing.sparsePackedFloats) * (c.size - 1) / c.size
                fields.append(("exchange_payload_bytes_per_rank", (c.size - 1) * timing.shardFloats * (gradWire.bytes + 4) + sparseBytes + timing.vocabBytes))
                if timing.vocabBytes > 0 { fields.append(("ms_vocab_collectives", (timing.vocabCollectiveSeconds * 1e5).rounded() / 100)) }
                if timing.markFloats > 0 { fields.append(("embedding_rows_exchanged", timing.sparseRows)) }
            }
            if c.size > 1 {  // compute time of every rank: a slow rank shows up as others' exchange time
                var perRank = [Double](repeating: 0, count: c.size)
                perRank[c.rank] = timing.phases[0] * 1e3
                perRank = try c.allReduceSum(perRank)
                fields.append(("ms_compute_per_rank", perRank.map { String(format: "%.1f", $0) }.joined(separator: " ")))
            }
            if gemm {
                let ceilingSeconds = Benchmark.gemmCeiling(cfg, rows: rowsPerRank)
                let decoderFlops = 6.0 * Double(rowsPerRank) * Double(hidden) * Double(vocab)
                let ceiling = decoderFlops / ceilingSeconds / 1e9
                let achieved = flops / Double(c.size) / timing.medianSeconds / 1e9
                fields += [("gemm_ceiling_gflops", (ceiling * 100).rounded() / 100),
                           ("gemm_decoder_ms", (ceilingSeconds * 1e5).rounded() / 100),
                           ("pct_of_gemm_ceiling", (achieved / ceiling * 1000).rounded() / 10)]
            }
            if c.rank == 0 { print(Format.json(fields)) }
        }
    }

    private func runClassifier(_ c: Communicator, _ threads: ComputeThreads) throws {
        let m = classifier
        var cfg = ClassifierBenchmark.Config(model: m, batch: globalBatch, minLength: lenMin, maxLength: lenMax, steps: steps, warmup: max(0, warmup))
        cfg.overlap = exchange.overlap.enabled(nodes: c.nodes)
        cfg.sharedWeights = exchange.sharedWeights
        let timing = try ClassifierBenchmark.timeSteps(cfg, threads: threads, comm: c)
        let rss = try c.allReduceSum([Benchmark.peakRSSMegabytes])
        var fields: [(String, Any)] = [
            ("impl", "ddplm"), ("task", "classify"), ("model", m.kind.rawValue), ("ranks", c.size), ("threads_per_rank", threads.count),
            ("blas_core", BLASInfo.coreName), ("blas_thread_timeout", BLASSetup.threadTimeoutNote),
            ("vocab", m.vocabSize), ("batch", globalBatch), ("emb", m.embedding),
        ]
        switch m.kind {
        case .wordavg: fields.append(("hidden", m.hidden))
        case .bilstm: fields += [("hidden", m.hidden), ("layers", m.layers), ("dropout", Double("\(m.dropout)") ?? 0)]
        case .cnn: fields += [("filters", m.filters), ("filter_sizes", m.filterSizes.map(String.init).joined(separator: ",")),
                              ("dropout", Double("\(m.dropout)") ?? 0)]
        }
        fields += [("len_min", lenMin), ("len_max", lenMax), ("steps", steps),
                   ("step_ms_median", (timing.medianSeconds * 1e5).rounded() / 100),
                   ("tokens_per_s", (timing.tokensPerSecond * 10).rounded() / 10),
                   ("peak_rss_mb", (rss[0] * 10).rounded() / 10)]
        for (name, secs) in zip(TrainingStep.phaseNames, timing.phases) { fields.append(("ms_" + name, (secs * 1e5).rounded() / 100)) }
        if c.rank == 0 { print(Format.json(fields)) }
    }
}
