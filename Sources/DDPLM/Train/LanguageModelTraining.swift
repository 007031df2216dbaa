import Foundation

/// Starting or continuing a language-model run: checks the settings and that every rank agrees, restores
/// or initialises the state, prepares the run directory (rank 0), then runs the `TrainingLoop`.
public enum LanguageModelTraining {
    /// The summary is for library callers; `ddplm` itself reports everything through the loop's reporter.
    @discardableResult
    public static func run(config: RunConfig, corpora: LanguageModelCorpora, options: TrainingLoop.Options, overwrite: Bool = false,
                           comm: Communicator) throws -> TrainingLoop.Summary {
        try config.validate(ranks: comm.size)
        let dir = options.dir
        if options.resume {
            // the fixed settings of a run cannot change, whoever calls
            try config.refuseFixedChanges(from: try RunConfig.load(dir.config), run: dir.path)
        }
        guard corpora.vocab.count == config.model.vocabSize, corpora.vocab.hash == config.vocabHash else {
            throw DDPLMError("the vocabulary (\(corpora.vocab.count) tokens) does not match the one config.json records (\(config.model.vocabSize) tokens, hash \(config.vocabHash))")
        }
        let task = try LanguageModelTask(config: config, corpora: corpora, comm: comm, threads: options.threads)
        // corpus first: a different corpus also changes the vocabulary and so the config's vocab hash
        try corpora.verifySame(comm)
        try comm.verifySame(config.hash, what: "the configuration (flags differ between ranks)")
        let loop = TrainingLoop(task: task, training: config.training, stop: config.stop, logging: config.logging,
                                identity: config.identity, options: options, comm: comm)
        try loop.prepare()
        // nothing is written before every input (corpora, settings, checkpoint) proved valid; rank 0 writes
        if comm.isRoot {
            try dir.begin(resume: options.resume, overwrite: overwrite, config: try config.encoded(), vocab: corpora.vocab.fileContents)
        }
        try comm.barrier()
        return try loop.run()
    }
}
