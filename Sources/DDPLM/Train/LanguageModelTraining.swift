import Foundation

/// Starting or continuing a language-model run: checks the settings and that every rank agrees, prepares
/// the run directory (rank 0), then hands the task to the `TrainingLoop`.
public enum LanguageModelTraining {
    public static func run(config: RunConfig, corpora: LanguageModelCorpora, options: TrainingLoop.Options, overwrite: Bool = false,
                           comm: Communicator) throws -> TrainingLoop.Summary {
        try config.validate(ranks: comm.size)
        guard corpora.vocab.count == config.model.vocabSize, corpora.vocab.hash == config.vocabHash else {
            throw DDPLMError("the vocabulary does not match the one in config.json (hash differs)")
        }
        let task = try LanguageModelTask(config: config, corpora: corpora, comm: comm, threads: options.threads)
        // corpus first: a different corpus also changes the vocabulary and so the config's vocab hash
        try corpora.verifySame(comm)
        try comm.verifySame(config.hash, what: "the configuration (flags differ between ranks)")
        // nothing is written before every input proved valid; rank 0 alone writes
        if comm.isRoot {
            let dir = options.dir
            if options.resume {
                try AtomicFile.write(try config.encoded(), to: dir.config)  // records changed stop conditions
                AtomicFile.removeStaleTemporaries(in: dir.path)
            } else {
                try dir.create(overwrite: overwrite, files: [(dir.config, try config.encoded()), (dir.vocab, corpora.vocab.fileContents)])
            }
        }
        try comm.barrier()
        return try TrainingLoop(task: task, config: config, options: options, comm: comm).run()
    }
}
