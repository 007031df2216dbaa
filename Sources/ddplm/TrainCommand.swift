import ArgumentParser
import DDPLM
import Foundation

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a language model (one process, or data-parallel under mpirun).",
        discussion: """
        Vocabulary: <unk>, <pad>, then the --vocab-size most frequent training words (ties alphabetical). \
        The token stream is cut into --batch columns read in windows of --bptt; the hidden state is carried \
        across windows (detached). Each step: mean cross-entropy, backward, gradients averaged over ranks, \
        global-norm clipping (--clip), Adam (--lr). Every --eval-every steps and at each epoch end the \
        validation loss is computed: better → the best model is saved to OUT/model.safetensors, otherwise \
        the learning rate is multiplied by --lr-decay. At the end the best model is evaluated on --test.

        Under mpirun, --batch is the global batch: each of N ranks trains batch/N \
        contiguous columns; rank 0 alone writes the run directory.

        OUT/latest.safetensors holds the full state every --save-every steps and at the end. \
        SIGINT/SIGTERM (or SIGUSR1, which mpirun forwards) stop gracefully after the current \
        step; a second signal exits at once. Continue with `ddplm train --resume OUT`: the \
        same ranks and threads give a bit-identical continuation. Only --epochs, --max-steps, \
        --max-minutes, --log-every, --save-every, --skip-nonfinite and --threads may change.
        """
    )

    @Option(help: "Training corpus (default: data/text8.train.txt, else the bundled data/sample).") var train: String?
    @Option(help: "Validation corpus (default: alongside --train).") var valid: String?
    @Option(help: "Test corpus (default: alongside --train).") var test: String?
    @Option(help: "Run directory for config.json, vocab.txt, model.safetensors, latest.safetensors, metrics.jsonl (default: runs/<date-time>).") var out: String?
    @Option(help: "Continue the run in this directory from its latest.safetensors.") var resume: String?
    @Flag(help: "Replace an existing run in --out.") var overwrite = false

    @Option(help: "Most frequent training words kept in the vocabulary (default 50000).") var vocabSize: Int?
    @Option(help: "Recurrent cell: lstm, gru or rnn_tanh (default lstm).") var cell: String?
    @Option(help: "Embedding size E (default 100).") var emb: Int?
    @Option(help: "Hidden size H (default 100).") var hidden: Int?
    @Option(help: "Recurrent layers (default 1).") var layers: Int?
    @Option(help: "Dropout on embeddings, between layers and before the decoder (default 0).") var dropout: Float?
    @Flag(help: "Tie decoder weight to the embedding (needs --emb == --hidden).") var tieWeights = false

    @Option(help: "Global batch size B: columns of the token stream (default 32).") var batch: Int?
    @Option(help: "Window length (truncated BPTT) (default 50).") var bptt: Int?
    @Option(help: "Adam learning rate (default 1e-3).") var lr: Double?
    @Option(help: "Learning-rate factor when validation does not improve (default 0.5).") var lrDecay: Double?
    @Option(help: "Global gradient-norm clip (default 5.0).") var clip: Double?
    @Option(help: "Epochs over the training corpus (default 1).") var epochs: Int?
    @Option(help: "Stop after this many steps in total (default 0 = no limit).") var maxSteps: Int?
    @Option(help: "Stop after this many minutes of this invocation (default 0 = no limit).") var maxMinutes: Double?
    @Option(help: "Validate every N steps (default 200).") var evalEvery: Int?
    @Option(help: "Progress line and metrics record every N steps (default 20).") var logEvery: Int?
    @Option(help: "Write latest.safetensors every N steps; 0 = only at the end (default 200).") var saveEvery: Int?
    @Option(help: "Seed for initialisation and dropout (default 53113).") var seed: UInt64?
    @Option(help: "Rows per chunk of the fused decoder/softmax (default 800: 160 MB of logits at V = 50002).") var chunkRows: Int?
    @Flag(help: "Skip a step whose loss or gradient is NaN/Inf instead of stopping.") var skipNonfinite = false
    @Option(help: "Verify every N steps that all ranks hold identical weights (debug; 0 = off).") var checkEvery: Int = 0
    @Option(help: .hidden) var debugNanAtStep: Int?

    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        Runtime.guarded { comm in
            var requested = runtime.threads
            if let dir = resume, requested == nil, ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] == nil {
                requested = Trainer.savedState(dir + "/latest.safetensors")?.threads  // resume as the run was
            }
            let (c, threads) = try Runtime.start(&comm, threads: requested)
            GracefulStop.install()
            let (config, options) = try makeConfig(comm: c, threads: threads)
            if c.rank == 0 {
                FileHandle.standardError.write(Data("ddplm train: \(Runtime.blasLine); \(c.size) rank\(c.size == 1 ? "" : "s")\n".utf8))
            }
            let trainer = Trainer(config: config, options: options, comm: c)
            _ = try trainer.run()
        }
    }

    private func makeConfig(comm: Communicator, threads: Int) throws -> (RunConfig, TrainOptions) {
        var options = TrainOptions(out: resume ?? out ?? defaultOut(comm: comm))
        options.threads = threads
        options.checkEvery = checkEvery
        options.injectNaNAtStep = debugNanAtStep.map { $0 - 1 }
        if let dir = resume {
            if let o = out, o != dir { throw DDPLMError("--out and --resume name different directories; --resume continues in place") }
            let fixed: [(String, Bool)] = [
                ("--train", train != nil), ("--valid", valid != nil), ("--test", test != nil), ("--vocab-size", vocabSize != nil),
                ("--cell", cell != nil), ("--emb", emb != nil), ("--hidden", hidden != nil), ("--layers", layers != nil),
                ("--dropout", dropout != nil), ("--tie-weights", tieWeights), ("--batch", batch != nil), ("--bptt", bptt != nil),
                ("--lr", lr != nil), ("--lr-decay", lrDecay != nil), ("--clip", clip != nil), ("--eval-every", evalEvery != nil),
                ("--seed", seed != nil), ("--chunk-rows", chunkRows != nil), ("--overwrite", overwrite),
            ]
            if let bad = fixed.first(where: { $0.1 }) {
                throw DDPLMError("\(bad.0) cannot change when resuming (it is fixed in \(dir)/config.json); only --epochs, --max-steps, --max-minutes, --log-every, --save-every and --threads can")
            }
            guard FileManager.default.fileExists(atPath: dir + "/config.json") else {
                throw DDPLMError("nothing to resume in '\(dir)': no config.json")
            }
            var cfg = try RunConfig.load(dir + "/config.json")
            if let v = epochs { cfg.epochs = v }
            if let v = maxSteps { cfg.maxSteps = v }
            if let v = maxMinutes { cfg.maxMinutes = v }
            if let v = logEvery { cfg.logEvery = v }
            if let v = saveEvery { cfg.saveEvery = v }
            if skipNonfinite { cfg.skipNonFinite = true }
            options.resume = true
            return (cfg, options)
        }
        guard let cellType = CellType(argument: cell ?? "lstm") else {
            throw DDPLMError("--cell must be lstm, gru or rnn_tanh (got '\(cell!)')")
        }
        let (tr, va, te) = try corpusPaths(comm: comm)
        let model = ModelConfig(vocabSize: 0, embedding: emb ?? 100, hidden: hidden ?? 100, layers: layers ?? 1,
                                cell: cellType, dropout: dropout ?? 0, tieWeights: tieWeights)
        var cfg = RunConfig(model: model, maxVocab: vocabSize ?? 50000, train: tr, valid: va, test: te)
        if let v = batch { cfg.batch = v }
        if let v = bptt { cfg.bptt = v }
        if let v = lr { cfg.lr = v }
        if let v = lrDecay { cfg.lrDecay = v }
        if let v = clip { cfg.clip = v }
        if let v = epochs { cfg.epochs = v }
        if let v = maxSteps { cfg.maxSteps = v }
        if let v = maxMinutes { cfg.maxMinutes = v }
        if let v = evalEvery { cfg.evalEvery = v }
        if let v = logEvery { cfg.logEvery = v }
        if let v = saveEvery { cfg.saveEvery = v }
        if let v = seed { cfg.seed = v }
        if let v = chunkRows { cfg.chunkRows = v }
        cfg.skipNonFinite = skipNonfinite
        options.overwrite = overwrite
        return (cfg, options)
    }

    /// --train/--valid/--test, defaulting to text8 in data/ and else to the bundled sample.
    private func corpusPaths(comm: Communicator) throws -> (String, String, String) {
        if let t = train {
            func sibling(_ split: String) -> String {
                let dir = (t as NSString).deletingLastPathComponent
                let base = (t as NSString).lastPathComponent
                let name = base.replacingOccurrences(of: "train", with: split)
                return name == base ? "" : (dir.isEmpty ? name : dir + "/" + name)
            }
            let v = valid ?? sibling("dev")
            let s = test ?? sibling("test")
            if v.isEmpty || s.isEmpty { throw DDPLMError("give --valid and --test with --train '\(t)' (their names cannot be derived from it)") }
            return (t, v, s)
        }
        let fm = FileManager.default
        if fm.fileExists(atPath: "data/text8.train.txt") {
            return ("data/text8.train.txt", valid ?? "data/text8.dev.txt", test ?? "data/text8.test.txt")
        }
        if fm.fileExists(atPath: "data/sample/text8.train.txt") {
            if comm.rank == 0 {
                FileHandle.standardError.write(Data("ddplm train: data/text8.train.txt not found; training on the bundled 1 MB sample in data/sample (launch/get-text8 fetches real text8)\n".utf8))
            }
            return ("data/sample/text8.train.txt", valid ?? "data/sample/text8.dev.txt", test ?? "data/sample/text8.test.txt")
        }
        throw DDPLMError("no training corpus: data/text8.train.txt does not exist; run launch/get-text8 (or launch/get-text8 --from FILE), or pass --train FILE --valid FILE --test FILE")
    }

    /// runs/<date-time>, agreed on by all ranks (rank 0's clock).
    private func defaultOut(comm: Communicator) -> String {
        var stamp = [Double(Int(Date().timeIntervalSince1970))]
        if let s = try? comm.broadcast(stamp) { stamp = s }
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.timeZone = TimeZone(identifier: "UTC")
        return "runs/" + f.string(from: Date(timeIntervalSince1970: stamp[0]))
    }
}
