import ArgumentParser
import DDPLM
import Foundation

/// `ddplm classify train | eval | predict`: the lecture's second half, text classification.
struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Text classification (sentiment): WordAVG, BiLSTM and CNN models, on one process or N ranks.",
        discussion: """
        Examples:
          ddplm classify train --model cnn --out runs/cnn          # aclImdb, else the bundled sample
          mpirun -np 2 ddplm classify train --model cnn --out runs/cnn2
          ddplm classify train --train data/aclImdb/train --vectors glove.6B.100d.txt --out runs/imdb
          ddplm classify eval runs/cnn --data data/classify-sample/test.tsv
          echo "not good at all" | ddplm classify predict runs/cnn
        """,
        subcommands: [ClassifyTrainCommand.self, ClassifyEvalCommand.self, ClassifyPredictCommand.self]
    )
}

struct ClassifyTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a text classifier (one process, or data-parallel under mpirun/srun).",
        discussion: """
        Tokens: lower-cased ASCII, <br /> removed, punctuation split off, "n't" and "'s" split off (the \
        tokeniser launch/torch-classify.py repeats). Vocabulary: <unk>, <pad>, then the --vocab-size most \
        frequent training tokens. Labels: the training data's, sorted; with two, the second is the positive \
        class and the model has one output (binary cross-entropy with logits), with K > 2 it has K \
        (softmax cross-entropy). Each epoch shuffles the documents and buckets them by length (as \
        torchtext's BucketIterator); each step: mean loss over the global batch of --batch documents, \
        backward, gradients summed over ranks, clipping (--clip), Adam (--lr). Every --eval-every steps \
        and at each epoch end the validation loss and accuracy are computed: a better loss saves \
        OUT/model.safetensors, otherwise the learning rate is multiplied by --lr-decay. At the end the best \
        model is evaluated on --test.

        Under mpirun or srun each rank takes its slice of every global batch; rank 0 writes the run \
        directory. Resume, signals and checkpoints work as for `ddplm train`.
        """
    )

    @OptionGroup var runDirectory: RunDirectoryOptions

    @OptionGroup(title: "Model (fixed for a run)") var model: ClassifierModelOptions
    @OptionGroup(title: "Data (fixed for a run)") var data: ClassifierDataOptions
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
            note("ddplm classify train: \(Runtime.blasLine); \(Runtime.ranksLine(c, exchange))")
            let (config, corpora) = try start.resuming ? resumedRun(start.dir, comm: c) : newRun(comm: c, note: note)
            try ClassifierTraining.run(config: config, corpora: corpora,
                                       options: start.options(checkEvery: logging.checkEvery, debugNanAtStep: logging.debugNanAtStep,
                                                      exchange: exchange),
                                       overwrite: runDirectory.overwrite, comm: c)
        }
    }

    private func newRun(comm: Communicator, note: (String) -> Void) throws -> (ClassifierRunConfig, ClassificationCorpora) {
        let d = try data.resolved(note: note)
        try d.validate(ranks: comm.size)  // before reading the corpora
        let corpora = try ClassificationCorpora.load(d)
        var config = ClassifierRunConfig(model: model.config(vocabSize: corpora.vocab.count, classes: corpora.labels.count),
                                         labels: corpora.labels, vocabHash: corpora.vocab.hash, data: d)
        training.bindings.apply(to: &config.training)
        stop.bindings.apply(to: &config.stop)
        logging.bindings.apply(to: &config.logging)
        return (config, corpora)
    }

    private func resumedRun(_ dir: RunDirectory, comm: Communicator) throws -> (ClassifierRunConfig, ClassificationCorpora) {
        let recorded = try ClassifierRunConfig.load(dir.config)
        var config = recorded
        model.bindings.apply(to: &config.model)
        data.bindings.apply(to: &config.data)
        training.bindings.apply(to: &config.training)
        try config.refuseFixedChanges(from: recorded, run: dir.path)
        stop.bindings.apply(to: &config.stop)
        logging.bindings.apply(to: &config.logging)
        try config.validate(ranks: comm.size)
        let corpora = try ClassificationCorpora.load(config.data)
        return (config, corpora)
    }
}

struct ClassifyEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Accuracy and loss of a saved classifier on labelled documents.",
        discussion: """
        Uses the run's best weights (model.safetensors) and vocabulary. --split valid re-derives the run's \
        validation documents (the held-out fraction of --train when it had no --valid); --data evaluates any \
        labelled file or directory. Works under mpirun too (documents split over ranks). \
        launch/torch-classify.py eval RUN --data FILE prints the same line from PyTorch.
        """
    )

    @Argument(help: ArgumentHelp("Run directory (config.json, vocab.txt, model.safetensors).", valueName: "run")) var dir: String
    @Option(help: ArgumentHelp("Labelled documents: a label<TAB>text file or a directory of label subdirectories.", valueName: "FILE|DIR")) var data: String?
    @Option(help: "test or valid: the run's own split (default test).") var split: String?
    @OptionGroup var savedWeights: SavedWeightsOptions
    @Flag(help: "Print one JSON object instead of text.") var json = false
    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        if data != nil && split != nil { throw DDPLMError("give --data or --split, not both") }
        if let s = split, s != "test" && s != "valid" { throw DDPLMError("--split must be test or valid (got '\(s)')") }
    }

    func run() throws {
        Runtime.guarded { comm in
            let (c, threads) = try Runtime.start(&comm, runtime, run: dir)
            let saved = try SavedClassifier(dir, weights: savedWeights.weights, threads: threads)
            if let note = saved.note, c.isRoot { Runtime.note(note) }
            let cfg = saved.config
            let docs: DocumentSet, name: String
            if let path = data {
                docs = try saved.documents(path, role: "evaluation")
                name = path
            } else if split == "valid" || (cfg.data.test.isEmpty && split == nil) {
                let corpora = try ClassificationCorpora.load(cfg.data)
                guard corpora.vocab.hash == saved.vocab.hash else {
                    throw DDPLMError("the training data '\(cfg.data.train)' changed since the run: its vocabulary differs, so the validation split cannot be rebuilt")
                }
                docs = corpora.valid
                name = cfg.data.valid.isEmpty ? "valid (held out of \(cfg.data.train))" : cfg.data.valid
            } else {
                docs = try saved.documents(cfg.data.test, role: "test")
                name = cfg.data.test
            }
            let start = Date()
            let r = try saved.evaluate(docs, comm: c)
            if c.isRoot {
                if json {
                    print(Format.json([("data", name), ("accuracy", r.accuracy), ("loss", r.loss), ("documents", r.documents),
                                       ("seconds", Date().timeIntervalSince(start))]))
                } else {
                    print("accuracy \(Format.fixed(r.accuracy, 4)) | loss \(Format.fixed(r.loss, 6)) | \(r.documents) documents")
                }
            }
        }
    }
}

struct ClassifyPredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Label documents with a saved classifier: one line per document, the label and its probability.",
        discussion: """
        Without files, every line of standard input is one document; each FILE is one document (its name \
        is printed after the probability).
        """
    )

    @Argument(help: ArgumentHelp("Run directory.", valueName: "run")) var dir: String
    @Argument(help: "Text files, one document each (default: one document per line of stdin).") var files: [String] = []
    @OptionGroup var savedWeights: SavedWeightsOptions
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        Runtime.guarded { comm in
            let (_, threads) = try Runtime.start(&comm, runtime, run: dir)
            guard Runtime.launch.rank == 0 else { return }  // under mpirun, one rank reads and labels
            var texts: [String] = []
            if files.isEmpty {
                while let line = readLine() { if !line.allSatisfy(\.isWhitespace) { texts.append(line) } }
                if texts.isEmpty { throw DDPLMError("no documents on standard input (one per line), and no files given") }
            } else {
                for f in files {
                    guard let d = FileManager.default.contents(atPath: f) else { throw DDPLMError("'\(f)' does not exist or cannot be read") }
                    guard let s = String(data: d, encoding: .utf8) else { throw DDPLMError("'\(f)' is not valid UTF-8 text") }
                    texts.append(s)
                }
            }
            let saved = try SavedClassifier(dir, weights: savedWeights.weights, threads: threads)
            if let note = saved.note { Runtime.note(note) }
            for (i, p) in try saved.predict(texts).enumerated() {
                print("\(p.label)\t\(Format.fixed(p.probability, 4))" + (files.isEmpty ? "" : "\t\(files[i])"))
            }
        }
    }
}
