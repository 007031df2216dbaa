import ArgumentParser
import DDPLM
import Foundation

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a language model (one process, or data-parallel under mpirun/srun).",
        discussion: """
        Vocabulary: <unk>, <pad>, then the --vocab-size most frequent training words (ties alphabetical). \
        The token stream is cut into --batch columns read in windows of --bptt; the hidden state is carried \
        across windows (detached). Each step: mean cross-entropy, backward, gradients averaged over ranks, \
        global-norm clipping (--clip), Adam (--lr). Every --eval-every steps and at each epoch end the \
        validation loss is computed: better → the best model is saved to OUT/model.safetensors, otherwise \
        the learning rate is multiplied by --lr-decay. At the end the best model is evaluated on --test.

        Under mpirun or srun, --batch is the global batch: each of N ranks trains batch/N contiguous \
        columns; rank 0 alone writes the run directory.

        OUT/latest.safetensors holds the full state every --save-every steps and at the end. SIGINT/SIGTERM \
        (or SIGUSR1, which mpirun forwards) stop gracefully after the current step; a second signal exits \
        at once. `ddplm train --resume OUT` continues: the same ranks and threads give a bit-identical \
        continuation. The model, data and training options are fixed for a run: on resume they may be \
        repeated with their recorded values, and a different value is refused. `--out OUT --resume auto` \
        continues OUT when it holds a checkpoint and starts it otherwise, so one command line both starts \
        and continues a run (what a requeued batch job needs).
        """
    )

    @Option(help: "Run directory for config.json, vocab.txt, model.safetensors, latest.safetensors, metrics.jsonl (default: runs/<date-time>).")
    var out: String?
    @Option(help: ArgumentHelp("Continue the run in DIR from its latest.safetensors; 'auto': continue --out if it holds a checkpoint, else start it.", valueName: "DIR|auto"))
    var resume: String?
    @Flag(help: "Replace an existing run in --out.") var overwrite = false

    @OptionGroup(title: "Model (fixed for a run)") var model: ModelOptions
    @OptionGroup(title: "Data (fixed for a run)") var data: DataOptions
    @OptionGroup(title: "Training (fixed for a run)") var training: TrainingOptions
    @OptionGroup(title: "Stopping (may change on resume)") var stop: StopOptions
    @OptionGroup(title: "Logging (may change on resume)") var logging: LoggingOptions
    @OptionGroup(title: "Runtime") var runtime: RuntimeOptions

    func validate() throws {
        if resume != nil && overwrite { throw DDPLMError("--overwrite cannot be combined with --resume") }
        if resume == "auto" && out == nil { throw DDPLMError("--resume auto needs --out DIR (the run to start or continue)") }
        if let r = resume, r != "auto", let o = out, o != r {
            throw DDPLMError("--out and --resume name different directories; --resume continues in place")
        }
    }

    func run() throws {
        Runtime.guarded { comm in
            let c = try Runtime.communicator(&comm, hangTimeout: runtime.hangTimeout)
            let dir = RunDirectory(resume.flatMap { $0 == "auto" ? nil : $0 } ?? out ?? defaultOut(comm: c))
            // rank 0 decides, so all ranks agree even if their views of the file system differ
            let resuming = try c.broadcast([resume == nil ? 0 : resume == "auto" ? (dir.canResume ? 1 : 0) : 1])[0] == 1
            if resume == "auto" && !resuming && dir.hasRun {
                throw DDPLMError("'\(dir.path)' holds a model.safetensors but no latest.safetensors to continue from (the run stopped before its first checkpoint); remove it or choose another --out")
            }
            var requested = runtime.threads
            if resuming, requested == nil, ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] == nil {
                requested = Checkpoint.savedState(dir.latest)?.threads  // resume as the run was
            }
            let threads = try Runtime.configureThreads(requested)
            GracefulStop.install()
            let note: (String) -> Void = { if c.isRoot { FileHandle.standardError.write(Data(($0 + "\n").utf8)) } }
            note("ddplm train: \(Runtime.blasLine); \(c.size) rank\(c.size == 1 ? "" : "s")")
            let (config, corpora) = try resuming ? resumedRun(dir, comm: c) : newRun(comm: c, note: note)
            var options = TrainingLoop.Options(dir: dir)
            options.resume = resuming
            options.threads = threads
            options.checkEvery = logging.checkEvery
            options.injectNaNAtStep = logging.debugNanAtStep.map { $0 - 1 }
            _ = try LanguageModelTraining.run(config: config, corpora: corpora, options: options, overwrite: overwrite, comm: c)
        }
    }

    /// A new run: reads the corpora (building the vocabulary), then every option or its default.
    private func newRun(comm: Communicator, note: (String) -> Void) throws -> (RunConfig, LanguageModelCorpora) {
        let d = try data.resolved(note: note)
        _ = try BatchSplit(batch: d.batch, comm: comm)  // before reading (maybe 100 MB of) corpora
        let corpora = try LanguageModelCorpora.build(d)
        var m = ModelConfig(vocabSize: corpora.vocab.count)
        model.bindings.apply(to: &m)
        var config = RunConfig(model: m, vocabHash: corpora.vocab.hash, data: d)
        training.bindings.apply(to: &config.training)
        stop.bindings.apply(to: &config.stop)
        logging.bindings.apply(to: &config.logging)
        return (config, corpora)
    }

    /// A resumed run: the recorded config; fixed options must repeat their recorded values, the stop and
    /// logging options may change.
    private func resumedRun(_ dir: RunDirectory, comm: Communicator) throws -> (RunConfig, LanguageModelCorpora) {
        guard FileManager.default.fileExists(atPath: dir.config) else {
            throw DDPLMError("nothing to resume in '\(dir.path)': no config.json")
        }
        var config = try RunConfig.load(dir.config)
        try model.bindings.refuseChanges(from: config.model, run: dir.path)
        try data.bindings.refuseChanges(from: config.data, run: dir.path)
        try training.bindings.refuseChanges(from: config.training, run: dir.path)
        stop.bindings.apply(to: &config.stop)
        logging.bindings.apply(to: &config.logging)
        try config.validate(ranks: comm.size)
        let corpora = try LanguageModelCorpora.load(config.data, vocab: try Vocabulary.load(dir.vocab))
        return (config, corpora)
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
