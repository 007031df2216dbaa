import Foundation

/// What `ddplm info RUN` prints about a run directory: the model, where training stands, the best
/// validation and where it came from, how it was trained, and whether every file verifies.
public enum RunInfo {
    public static func describe(_ path: String) throws -> [String] {
        if runConfigFormat(atPath: RunDirectory(path).config) == ClassifierRunConfig.currentFormat {
            return try describeClassifier(path)
        }
        let dir = RunDirectory(path)
        let config = try Checkpoint.config(path)
        let m = config.model
        var out: [String] = []
        let params = LanguageModel.layout(m).count
        out.append("model: \(m.cell.torchName) V=\(m.vocabSize) E=\(m.embedding) H=\(m.hidden) layers=\(m.layers) dropout=\(m.dropout)\(m.tieWeights ? " tied" : "") | \(params) parameters (\(Format.fixed(Double(params) * 4 / 1e6, 1)) MB)")
        out.append("data: train \(config.data.train) | valid \(config.data.valid) | test \(config.data.test) | vocabulary \(m.vocabSize) | batch \(config.data.batch) bptt \(config.data.bptt)")
        out.append("training: lr \(config.training.lr) ×\(config.training.lrDecay) on plateau, clip \(config.training.clip), validate every \(config.training.evalEvery) steps, seed \(config.training.seed)"
                   + (config.training.gradientWire == .fp32 ? "" : ", \(config.training.gradientWire.rawValue) gradient wire")
                   + (config.training.vocabParallel ? ", decoder split by vocabulary rows (--vocab-parallel)" : ""))
        return out + files(dir, vocabHash: config.vocabHash, vocabSize: m.vocabSize, perplexity: true)
    }

    static func describeClassifier(_ path: String) throws -> [String] {
        let dir = RunDirectory(path)
        let config = try ClassifierRunConfig.load(dir.config)
        let m = config.model, d = config.data
        let params = TextClassifier.layout(m).count
        let shape: String
        switch m.kind {
        case .wordavg: shape = "E=\(m.embedding) hidden=\(m.hidden)"
        case .bilstm: shape = "E=\(m.embedding) H=\(m.hidden) layers=\(m.layers) bidirectional dropout=\(m.dropout)"
        case .cnn: shape = "E=\(m.embedding) filters=\(m.filters)×\(m.filterSizes.map(String.init).joined(separator: ",")) dropout=\(m.dropout)"
        }
        var out = ["model: \(m.kind.rawValue) classifier V=\(m.vocabSize) \(shape), labels \(config.labels.joined(separator: "/")) | \(params) parameters (\(Format.fixed(Double(params) * 4 / 1e6, 1)) MB)"]
        out.append("data: train \(d.train) | valid \(d.valid.isEmpty ? "\(Int((d.validFraction * 100).rounded()))% held out of train" : d.valid) | test \(d.test.isEmpty ? "none" : d.test) | vocabulary \(m.vocabSize) | batch \(d.batch) | max \(d.maxTokens) tokens\(d.vectors.isEmpty ? "" : " | vectors \(d.vectors)")")
        out.append("training: lr \(config.training.lr) ×\(config.training.lrDecay) on plateau, clip \(config.training.clip), validate every \(config.training.evalEvery) steps, seed \(config.training.seed)")
        return out + files(dir, vocabHash: config.vocabHash, vocabSize: m.vocabSize, perplexity: false)
    }

    /// The best model, the state and the file checks, for either kind of run.
    static func files(_ dir: RunDirectory, vocabHash: String, vocabSize: Int, perplexity: Bool) -> [String] {
        var out: [String] = []
        func ppl(_ loss: Double) -> String { perplexity ? ", ppl \(Format.fixed(Format.ppl(loss), 2))" : "" }
        var checks: [String] = ["config.json ok"]
        do {
            let vocab = try Vocabulary.load(dir.vocab)
            checks.append(vocab.hash == vocabHash && vocab.count == vocabSize ? "vocab.txt ok" : "vocab.txt DOES NOT MATCH config.json")
        } catch { checks.append("vocab.txt: \(error)") }
        if FileManager.default.fileExists(atPath: dir.model) {
            do {
                let f = try SafeTensors.read(path: dir.model)
                checks.append("model.safetensors ok")
                if let best = Checkpoint.bestRecord(in: f) {
                    out.append("best model: step \(best.step), validation loss \(Format.fixed(best.loss, 4))\(ppl(best.loss)) (model.safetensors)")
                }
            } catch { checks.append("\(error)") }
        } else {
            out.append("best model: none yet: no validation has improved (eval, generate and predict read latest.safetensors)")
            checks.append("no model.safetensors yet")
        }
        if FileManager.default.fileExists(atPath: dir.latest) {
            do {
                let f = try SafeTensors.read(path: dir.latest)
                let s = try Checkpoint.trainerState(in: f, name: "'\(dir.latest)'")
                checks.append("latest.safetensors ok")
                out.append("state: step \(s.step): \(s.epoch) epoch\(s.epoch == 1 ? "" : "s") and \(s.window) batches done, lr \(Format.sci(s.lr)) after \(s.schedule.decays) decay\(s.schedule.decays == 1 ? "" : "s"), \(s.tokens) tokens in \(Format.duration(s.elapsed))")
                out.append("trained on: \(s.ranks) rank\(s.ranks == 1 ? "" : "s") × \(s.threads.map(String.init) ?? "?") thread\(s.threads == 1 ? "" : "s")"
                           + (s.matmulPrecision.map { $0 == MatmulPrecision.highest.rawValue ? "" : ", matmul precision \($0)" } ?? ""))
                if let b = s.bestSavedLoss {
                    out.append("best validation: loss \(Format.fixed(b, 4))\(ppl(b))\(s.bestSavedStep.map { " at step \($0)" } ?? "")")
                }
            } catch { checks.append("\(error)") }
        } else {
            checks.append("no latest.safetensors (the run saved no resumable state)")
        }
        out.append("files: " + checks.joined(separator: "; "))
        return out
    }
}
