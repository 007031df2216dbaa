import Foundation
import Glibc

/// The run directory:
///   config.json        every setting (RunConfig)
///   vocab.txt          one token per line, line number = id
///   model.safetensors  the best weights under PyTorch state_dict names
///   latest.safetensors full trainer state for --resume (see Checkpoint)
///   metrics.jsonl      one JSON object per log interval / validation / test
///   tensorboard/       with --tensorboard: events.out.tfevents.* (the same metrics as TensorBoard scalars)
/// Every file but metrics.jsonl and the event files is replaced atomically; only rank 0 writes.
public struct RunDirectory: Sendable {
    public let path: String
    public init(_ path: String) { self.path = path }

    public var config: String { path + "/config.json" }
    public var vocab: String { path + "/vocab.txt" }
    public var model: String { path + "/model.safetensors" }
    public var latest: String { path + "/latest.safetensors" }
    var metrics: String { path + "/metrics.jsonl" }
    public var tensorboard: String { path + "/tensorboard" }

    public var hasRun: Bool {
        FileManager.default.fileExists(atPath: model) || FileManager.default.fileExists(atPath: latest)
    }

    public var canResume: Bool { FileManager.default.fileExists(atPath: latest) }

    /// Makes the directory of a new run and writes its first files. Refuses to replace a run unless
    /// `overwrite`; then only the files a run writes are removed.
    func create(overwrite: Bool, files: [(path: String, contents: String)]) throws {
        if hasRun && !overwrite {
            throw DDPLMError("'\(path)' already holds a run; continue it with --resume \(path), pass --overwrite, or choose another --out")
        }
        try AtomicFile.makeDirectory(path)
        if overwrite {
            for f in [model, latest, metrics, tensorboard] { try? FileManager.default.removeItem(atPath: f) }
        }
        for f in files { try AtomicFile.write(f.contents, to: f.path) }
        AtomicFile.removeStaleTemporaries(in: path)
    }

    /// Rank 0, once every input has proved valid: a new run gets its directory, config.json and vocab.txt;
    /// a resumed one gets config.json rewritten (it records changed stop and logging settings).
    func begin(resume: Bool, overwrite: Bool, config: String, vocab: String) throws {
        if resume {
            try AtomicFile.write(config, to: self.config)
            AtomicFile.removeStaleTemporaries(in: path)
        } else {
            try create(overwrite: overwrite, files: [(self.config, config), (self.vocab, vocab)])
        }
    }
}
