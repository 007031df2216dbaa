import Foundation

/// A run's learning curves, read from its metrics.jsonl: training and validation perplexity against
/// tokens seen and against training seconds, and where the learning rate was cut.
public struct RunCurves {
    public struct Point: Equatable {
        public var step: Int
        public var tokens: Double
        public var seconds: Double
        public var ppl: Double
    }

    /// The legend's name (the directory's last component) and what it was trained with.
    public var name: String
    public var detail: String
    public var train: [Point] = []
    public var valid: [Point] = []
    /// Validations after which the learning rate was lower than before.
    public var lrCuts: [Point] = []

    /// Reads `dir`/metrics.jsonl (and config.json / latest.safetensors for the legend).
    public static func load(_ dir: String) throws -> RunCurves {
        let run = RunDirectory(dir)
        guard let data = FileManager.default.contents(atPath: run.metrics) else {
            throw DDPLMError("'\(run.metrics)' is missing: is '\(dir)' a ddplm run directory?")
        }
        var c = RunCurves(name: (dir as NSString).standardizingPath.split(separator: "/").last.map(String.init) ?? dir, detail: "")
        var lr: Double?
        var lastSeconds = 0.0, accuracies = false
        for (n, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
            guard let o = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
                throw DDPLMError("'\(run.metrics)' line \(n + 1) is not a JSON object")
            }
            func num(_ k: String) -> Double? { (o[k] as? NSNumber)?.doubleValue }
            guard let type = o["type"] as? String, let step = num("step").map(Int.init) else { continue }
            let seconds = num("elapsed_s") ?? lastSeconds
            lastSeconds = seconds
            if num("accuracy") != nil { accuracies = true }
            guard let ppl = num("ppl"), ppl.isFinite, ppl > 0 else { continue }
            let p = Point(step: step, tokens: num("tokens") ?? 0, seconds: seconds, ppl: ppl)
            switch type {
            case "train":
                // a resumed run starts again from its checkpoint: drop the superseded tail
                while let last = c.train.last, last.step >= step { c.train.removeLast() }
                c.train.append(p)
            case "valid":
                while let last = c.valid.last, last.step > step { c.valid.removeLast() }
                if let l = num("lr") {
                    if let before = lr, l < before { c.lrCuts.append(p) }
                    lr = l
                }
                c.valid.append(p)
            default: break
            }
        }
        if accuracies && c.valid.isEmpty {
            throw DDPLMError("'\(dir)' is a classifier run: ddplm plot draws language-model perplexity (its loss and accuracy are in '\(run.metrics)')")
        }
        guard !c.train.isEmpty || !c.valid.isEmpty else { throw DDPLMError("'\(run.metrics)' has no training or validation records yet") }
        var parts: [String] = []
        if let cfg = try? RunConfig.load(run.config) {
            parts.append("\(cfg.model.cell.torchName) \(cfg.model.hidden)×\(cfg.model.layers)")
        }
        if let s = Checkpoint.savedState(run.latest) { parts.append("\(s.ranks) rank\(s.ranks == 1 ? "" : "s")") }
        c.detail = parts.joined(separator: ", ")
        return c
    }
}
