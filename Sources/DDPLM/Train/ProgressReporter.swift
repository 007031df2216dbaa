import CKernels
import Foundation

/// Everything a run tells the user: progress on stderr and the records of metrics.jsonl (the
/// machine-readable log; every key is documented in the README). Only rank 0 has a reporter that
/// writes; other ranks' reporters are silent.
///
/// On a terminal (`live`) one status line redraws a few times a second — a bar, step/total, epoch %,
/// loss, ppl, lr, tok/s, ETA — and validation, test and notes are printed on their own lines above it.
/// Elsewhere (a log file, CI, a batch job) a plain line is printed every `logEvery` steps.
final class ProgressReporter {
    private let print: ((String) -> Void)?
    private let metrics: LineLog?
    private let tensorboard: TensorBoardWriter?
    private let logEvery: Int
    private let live: Bool
    /// Show perplexity (a language model's per-token loss) next to the loss.
    private let perplexity: Bool

    // the current log interval
    private var intervalStart = Date()
    private var intervalTokens = 0
    private var intervalSteps = 0
    private var intervalLoss = 0.0
    private var intervalFinite = 0
    private var pausedSeconds = 0.0
    private var lastNorm = 0.0
    // the live status line
    private var status: String?
    private var lastDraw = Date.distantPast

    init(logEvery: Int, print: ((String) -> Void)?, metrics: LineLog?, perplexity: Bool = true, tensorboard: TensorBoardWriter? = nil,
         live: Bool = false) {
        self.perplexity = perplexity
        self.logEvery = logEvery
        self.print = print
        self.metrics = metrics
        self.tensorboard = tensorboard
        self.live = live && print != nil
    }

    /// Whether stderr is a terminal that can redraw a line.
    static var stderrIsTerminal: Bool {
        isatty(2) != 0 && ProcessInfo.processInfo.environment["TERM"].map { $0 != "dumb" } ?? false
    }

    /// A line of its own (above the live status line, which is then redrawn).
    func note(_ line: String) {
        guard let print else { return }
        if live && status != nil {
            print("\r\u{1B}[2K" + line)
            drawStatus()
        } else {
            print(line)
        }
    }

    private func drawStatus() {
        guard let s = status else { return }
        let width = Int(ddplm_terminal_columns(2))
        let text = width > 1 && s.count >= width ? String(s.prefix(width - 1)) : s
        FileHandle.standardError.write(Data(("\r\u{1B}[2K" + text).utf8))
        lastDraw = Date()
    }

    /// Leaves the terminal on a fresh line (the status line stays as the last word).
    func endLive() {
        if live && status != nil { FileHandle.standardError.write(Data("\n".utf8)); status = nil }
    }

    private func record(_ pairs: [(String, Any)]) throws { try metrics?.append(Format.json(pairs)) }

    /// The same numbers as TensorBoard scalars, tagged "PREFIX/KEY" (--tensorboard).
    private func scalars(_ prefix: String, step: Int, _ pairs: [(String, Double)]) throws {
        guard let tensorboard else { return }
        let now = Date().timeIntervalSince1970
        for (key, value) in pairs { try tensorboard.scalar(tag: "\(prefix)/\(key)", value: value, step: step, wallTime: now) }
    }

    /// Time spent on something other than training (validation) inside the current interval.
    func paused(_ seconds: Double) { pausedSeconds += seconds }

    /// The clock of the first interval starts with the training loop, not at setup.
    func startInterval() {
        intervalStart = Date()
        pausedSeconds = 0
    }

    /// One finished step (loss nil when it was skipped as non-finite).
    func step(loss: Double?, gradNorm: Double, tokens: Int) {
        intervalSteps += 1
        intervalTokens += tokens
        if let loss {
            intervalLoss += loss
            intervalFinite += 1
            lastNorm = gradNorm
        }
    }

    /// Where the run is, for the progress line.
    struct Position {
        var state: TrainerState
        var epochFraction: Double
        /// Steps left before the run stops by epochs or --max-steps.
        var stepsLeft: Int
        /// Seconds left before --max-minutes (nil: no limit).
        var secondsLeft: Double?
        var elapsed: Double
    }

    /// After each step: ends the interval with a "train" record (and, off a terminal, a progress line)
    /// when `logEvery` steps have passed or `force` (epoch end); on a terminal, redraws the status line
    /// at most four times a second.
    func afterStep(_ p: Position, force: Bool) throws {
        guard intervalSteps > 0 else { return }
        let due = force || p.state.step % logEvery == 0
        let now = Date()
        guard due || (live && now.timeIntervalSince(lastDraw) >= 0.25) else { return }
        let dt = max(now.timeIntervalSince(intervalStart) - pausedSeconds, 1e-9)
        let tps = Double(intervalTokens) / dt
        let mean = intervalFinite > 0 ? intervalLoss / Double(intervalFinite) : .nan
        var eta = Double(p.stepsLeft) * dt / Double(intervalSteps)
        if let s = p.secondsLeft { eta = min(eta, s) }
        let s = p.state
        let ppl = perplexity ? " | ppl \(Format.fixed(Format.ppl(mean), 2))" : ""
        let fields = "epoch \(s.epoch + 1) \(Format.fixed(100 * p.epochFraction, 1))% | loss \(Format.fixed(mean, 4))\(ppl) | lr \(Format.sci(s.lr)) | \(Int(tps)) tok/s | ETA \(Format.duration(eta))"
        if live {
            let total = s.step + p.stepsLeft, done = Double(s.step) / Double(max(1, total))
            let filled = Int((done * 24).rounded(.down))
            status = "[\(String(repeating: "█", count: filled))\(String(repeating: "·", count: 24 - filled))] step \(s.step)/\(total) | " + fields
            drawStatus()
        } else if due {
            print?("step \(s.step) | " + fields)
        }
        guard due else { return }
        try record([("type", "train"), ("step", s.step), ("epoch", s.epoch + 1), ("epoch_progress", p.epochFraction), ("loss", mean)]
                   + (perplexity ? [("ppl", Format.ppl(mean))] : [])
                   + [("lr", s.lr), ("grad_norm", lastNorm), ("tokens", s.tokens), ("tokens_per_s", tps), ("elapsed_s", p.elapsed)])
        try scalars("train", step: s.step, [("loss", mean)] + (perplexity ? [("ppl", Format.ppl(mean))] : [])
                                           + [("lr", s.lr), ("grad_norm", lastNorm), ("tokens_per_s", tps)])
        intervalStart = now
        intervalTokens = 0
        intervalSteps = 0
        intervalLoss = 0
        intervalFinite = 0
        pausedSeconds = 0
    }

    func resumed(_ s: TrainerState, from path: String, batchesPerEpoch: Int, savedRanks: Int, ranks: Int) {
        if savedRanks != ranks {
            note("resuming a \(savedRanks)-rank run on \(ranks) ranks: carried state re-sliced by column")
        }
        note("resumed from \(path) at step \(s.step) (epoch \(s.epoch + 1), window \(s.window)/\(batchesPerEpoch)), lr \(Format.sci(s.lr))")
    }

    func skipped(_ what: String) { note("\(what): step skipped, carried state reset") }

    /// Where the invocation's wall time went: a line, and a "time" record.
    func time(_ budget: RunTimeBudget) throws {
        note(budget.line)
        try record(budget.record)
    }

    func finished(_ s: TrainerState, stop: TrainingLoop.Summary.Stop, latest: String) {
        endLive()
        note("\(stop == .signal ? "stopped by signal" : "finished (\(stop.rawValue))") at step \(s.step); latest state in \(latest)")
    }

    /// What a validation decided, on its own line, and a "valid" record.
    struct Decision {
        /// nil for the end-of-run validation, which does not drive the schedule.
        var improved: Bool?
        /// Where the best model was saved, if it was.
        var saved: String?
    }

    /// "ppl" for a language model, "accuracy" for a classifier: the second number of a split.
    private func quality(_ e: Evaluation) -> (text: String, key: String, value: Double) {
        if let a = e.accuracy { return ("acc \(Format.fixed(100 * a, 2))%", "accuracy", a) }
        return ("ppl \(Format.fixed(Format.ppl(e.loss), 2))", "ppl", Format.ppl(e.loss))
    }

    func validation(_ s: TrainerState, _ e: Evaluation, decision d: Decision, elapsed: Double) throws {
        let loss = e.loss, q = quality(e)
        var text: String
        switch d.improved {
        case true?: text = "improved"
        case false?: text = "no improvement: lr → \(Format.sci(s.lr))"
        case nil: text = d.saved == nil ? "not better than \(Format.fixed(s.bestSavedLoss ?? .nan, 4))" : "improved"
        }
        if let path = d.saved { text += ", saved \(path)" }
        note("valid step \(s.step) | loss \(Format.fixed(loss, 4)) | \(q.text) | \(text)")
        try record([("type", "valid"), ("step", s.step), ("epoch", s.epoch + 1), ("loss", loss), (q.key, q.value),
                    ("lr", s.lr), ("tokens", s.tokens), ("best", s.bestSavedLoss ?? loss), ("elapsed_s", elapsed)])
        try scalars("valid", step: s.step, [("loss", loss), (q.key, q.value)])
    }

    func test(_ s: TrainerState, _ e: Evaluation) throws {
        let q = quality(e)
        note("test (best model, valid loss \(Format.fixed(s.bestSavedLoss ?? .nan, 4))) | loss \(Format.fixed(e.loss, 4)) | \(q.text)")
        try record([("type", "test"), ("step", s.step), ("loss", e.loss), (q.key, q.value),
                    ("best_valid_loss", s.bestSavedLoss ?? .nan)])
        try scalars("test", step: s.step, [("loss", e.loss), (q.key, q.value)])
    }
}
