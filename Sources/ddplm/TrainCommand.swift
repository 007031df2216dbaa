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

    @OptionGroup var runDirectory: RunDirectoryOptions

    @OptionGroup(title: "Model (fixed for a run)") var model: ModelOptions
    @OptionGroup(title: "Data (fixed for a run)") var data: DataOptions
    @OptionGroup(title: "Training (fixed for a run)") var training: TrainingOptions
    @OptionGroup(title: "Stopping (may change on resume)") var stop: StopOptions
    @OptionGroup(title: "Logging (may change on resume)") var logging: LoggingOptions
    @OptionGroup(title: "Runtime") var runtime: RuntimeOptions
    @OptionGroup(title: "Runtime") var exchange: ExchangeOptions

    func run() throws {
        Runtime.guarded { comm in
            let c = try Runtime.communicator(&comm, hangTimeout: runtime.hangTimeout)
            let start = try RunStart(runDirectory, runtime: runtime, comm: c)
            GracefulStop.install()
            let note = RunStart.note(c)
            note("ddplm train: \(Runtime.blasLine); \(Runtime.ranksLine(c, exchange))")
            let (config, corpora) = try start.resuming ? resumedRun(start.dir, comm: c) : newRun(comm: c, note: note)
            try LanguageModelTraining.run(config: config, corpora: corpora,
                                        options: start.options(checkEvery: logging.checkEvery, debugNanAtStep: logging.debugNanAtStep,
                                                      exchange: exchange),
                                        overwrite: runDirectory.overwrite, comm: c)
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
        let recorded = try RunConfig.load(dir.config)
        var config = recorded
        model.bindings.apply(to: &config.model)
        data.bindings.apply(to: &config.data)
        training.bindings.apply(to: &config.training)
        try config.refuseFixedChanges(from: recorded, run: dir.path)
        stop.bindings.apply(to: &config.stop)
        logging.bindings.apply(to: &config.logging)
        try config.validate(ranks: comm.size)
        let corpora = try LanguageModelCorpora.load(config.data, vocab: try Vocabulary.load(dir.vocab))
        return (config, corpora)
    }
}
