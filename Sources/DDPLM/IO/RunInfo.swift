import Foundation

/// What `ddplm info RUN` prints about a run directory: the model, where training stands, the best
/// validation and where it came from, how it was trained, and whether every file verifies.
public enum RunInfo {
    public static func describe(_ path: String) throws -> [String] {
        let dir = RunDirectory(path)
        let config = try Checkpoint.config(path)
        let m = config.model
        var out: [String] = []
        let params = LanguageModel.layout(m).count
        out.append("model: \(m.cell.torchName) V=\(m.vocabSize) E=\(m.embedding) H=\(m.hidden) layers=\(m.layers) dropout=\(m.dropout)\(m.tieWeights ? " tied" : "") | \(params) parameters (\(Format.fixed(Double(params) * 4 / 1e6, 1)) MB)")
        out.append("data: train \(config.data.train) | valid \(config.data.valid) | test \(config.data.test) | vocabulary \(m.vocabSize) | batch \(config.data.batch) bptt \(config.data.bptt)")
        out.append("training: lr \(config.training.lr) ×\(config.training.lrDecay) on plateau, clip \(config.training.clip), validate every \(config.training.evalEvery) steps, seed \(config.training.seed)"
                   + (config.training.gradientWire == .fp32 ? "" : ", \(config.training.gradientWire.rawValue) gradient wire"))
        var checks: [String] = ["config.json ok"]
        do {
            let vocab = try Vocabulary.load(dir.vocab)
            checks.append(vocab.hash == config.vocabHash && vocab.count == m.vocabSize ? "vocab.txt ok" : "vocab.txt DOES NOT MATCH config.json")
        } catch { checks.append("vocab.txt: \(error)") }
        do {
            let f = try SafeTensors.read(path: dir.model)
            checks.append("model.safetensors ok")
            if let step = f.metadata["ddplm.step"], let loss = f.metadata["ddplm.val_loss"].flatMap(Double.init) {
                out.append("best model: step \(step), validation loss \(Format.fixed(loss, 4)), ppl \(Format.fixed(Format.ppl(loss), 2)) (model.safetensors)")
            }
        } catch { checks.append("\(error)") }
        if FileManager.default.fileExists(atPath: dir.latest) {
            do {
                let f = try SafeTensors.read(path: dir.latest)
                let s = try Checkpoint.trainerState(in: f, name: "'\(dir.latest)'")
                checks.append("latest.safetensors ok")
                out.append("state: step \(s.step): \(s.epoch) epoch\(s.epoch == 1 ? "" : "s") and \(s.window) batches done, lr \(Format.sci(s.lr)) after \(s.schedule.decays) decay\(s.schedule.decays == 1 ? "" : "s"), \(s.tokens) tokens in \(Format.duration(s.elapsed))")
                out.append("trained on: \(s.ranks) rank\(s.ranks == 1 ? "" : "s") × \(s.threads.map(String.init) ?? "?") thread\(s.threads == 1 ? "" : "s")")
                if let b = s.bestSavedLoss {
                    out.append("best validation: loss \(Format.fixed(b, 4)), ppl \(Format.fixed(Format.ppl(b), 2))\(s.bestSavedStep.map { " at step \($0)" } ?? "")")
                }
            } catch { checks.append("\(error)") }
        } else {
            checks.append("no latest.safetensors (the run saved no resumable state)")
        }
        out.append("files: " + checks.joined(separator: "; "))
        return out
    }
}
