import ArgumentParser
import DDPLM
import Foundation

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Loss and perplexity of a saved model on a corpus split.",
        discussion: """
        Uses the run's best weights (model.safetensors; --weights latest for the last saved state), its vocabulary and the same batching as training \
        (fresh hidden state, --batch columns, --bptt windows), so `--split valid` reproduces the validation \
        loss the trainer logged for that model. Works under mpirun too (columns split over ranks).
        """
    )

    @Option(help: "Run directory (config.json, vocab.txt, model.safetensors or latest.safetensors).") var checkpoint: String
    @Option(help: "test, valid, or a path to a text file.") var split: String = "test"
    @OptionGroup var savedWeights: SavedWeightsOptions
    @Option(help: "Batch columns (default: the training batch).") var batch: Int?
    @Option(help: "Window length (default: the training bptt).") var bptt: Int?
    @Flag(help: "Print one JSON object instead of text.") var json = false
    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        if let t = bptt, t <= 0 { throw DDPLMError("--bptt must be positive (got \(t))") }
    }

    func run() throws {
        Runtime.guarded { comm in
            let (c, threads) = try Runtime.start(&comm, runtime, run: checkpoint)
            let cfg = try Checkpoint.config(checkpoint)
            let columns = try BatchSplit(batch: batch ?? cfg.data.batch, comm: c), t = bptt ?? cfg.data.bptt
            let (_, vocab, model, note) = try Checkpoint.open(checkpoint, config: cfg, weights: savedWeights.weights, batch: columns.columns, maxT: t, threads: threads)
            if let note, c.rank == 0 { Runtime.note(note) }
            let path: String
            switch split {
            case "test": path = cfg.data.test
            case "valid", "dev", "validation": path = cfg.data.valid
            default: path = split
            }
            let ids = vocab.encode(try Corpus.load(path, role: split == path ? "evaluation" : split, hint: "pass --split FILE"))
            let data = try Batcher(ids: ids, batch: columns.batch, bptt: t, name: "corpus '\(path)'")
            let start = Date()
            let (loss, tokens) = try Evaluator.meanLoss(model: model, data: data, split: columns, comm: c)
            let secs = Date().timeIntervalSince(start)
            if c.rank == 0 {
                if json {
                    print(Format.json([("split", split), ("path", path), ("loss", loss), ("ppl", Format.ppl(loss)),
                                       ("tokens", tokens), ("seconds", secs)]))
                } else {
                    print("\(split): loss \(Format.fixed(loss, 4)) | ppl \(Format.fixed(Format.ppl(loss), 2)) | \(tokens) tokens | \(path) | \(Format.fixed(secs, 1))s")
                }
            }
        }
    }
}
