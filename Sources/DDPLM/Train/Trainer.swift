import Foundation

/// The trainer's counters: everything besides tensors that `--resume` needs to continue bit-exactly.
/// Stored as JSON in latest.safetensors' metadata.
public struct TrainerState: Codable, Equatable, Sendable {
    public var step = 0
    public var epoch = 0
    public var window = 0
    public var lr: Double
    /// Best scheduled validation loss: drives the halve-on-no-improvement rule.
    public var bestValLoss: Double?
    /// Loss of the weights in model.safetensors (also counts the end-of-run validation).
    public var bestSavedLoss: Double?
    public var lastValidatedStep = -1
    public var adamStep = 0
    public var tokens = 0
    public var elapsed: Double = 0
    public var decays = 0
    public var ranks = 1
    /// Threads per rank the run used: a resume defaults to the same, so it stays bit-exact.
    public var threads: Int?
    public var vocabHash = ""

    public init(lr: Double) { self.lr = lr }
}

/// Things about a training invocation that are not hyper-parameters of the run.
public struct TrainOptions {
    public var out: String
    public var resume = false
    public var overwrite = false
    /// Threads for the softmax rows (BLAS threads are set separately by the caller).
    public var threads = 1
    /// Verify every K steps that all ranks hold bit-identical weights (0 = off).
    public var checkEvery = 0
    /// Progress lines (called on rank 0 only).
    public var progress: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    public var stopRequested: () -> Bool = { GracefulStop.requested }
    /// Test hook: poison the gradient at this step to exercise non-finite handling.
    public var injectNaNAtStep: Int?

    public init(out: String) { self.out = out }
}

public struct TrainSummary {
    public enum Stop: String { case epochs, maxSteps = "max-steps", maxMinutes = "max-minutes", signal }
    public var state: TrainerState
    public var stop: Stop
    public var testLoss: Double?
    public var tokensPerSecond: Double
}

/// The training loop and the rank-0 duties. One code path for one process or N ranks:
/// each step every rank runs forward/backward on its columns, gradients (plus a few control floats) are
/// summed in one all-reduce and divided by N, then every rank clips and applies the same Adam step.
public final class Trainer {
    public private(set) var config: RunConfig
    let options: TrainOptions
    let comm: Communicator
    let dir: RunDirectory

    public init(config: RunConfig, options: TrainOptions, comm: Communicator) {
        self.config = config
        self.options = options
        self.comm = comm
        dir = RunDirectory(options.out)
    }

    private var isRoot: Bool { comm.rank == 0 }
    private func say(_ s: String) { if isRoot { options.progress(s) } }

    public func run() throws -> TrainSummary {
        let n = comm.size, rank = comm.rank
        var cfg = config
        try cfg.validateTraining(ranks: n)

        // --- what we resume from (read before anything is written)
        var resumeFile: SafeTensors?
        if options.resume {
            guard FileManager.default.fileExists(atPath: dir.latest) else {
                throw DDPLMError("nothing to resume: '\(dir.latest)' does not exist")
            }
            resumeFile = try SafeTensors.read(path: dir.latest)
        }

        // --- data: every rank reads and tokenises; the job checks they agree
        let t0 = Date()
        let trainText = try Corpus.load(cfg.train, role: "training",
                                        hint: "run launch/get-text8 to fetch text8, or pass --train FILE")
        let vocab: Vocabulary
        let trainIds: [Int32]
        if options.resume {
            vocab = try Vocabulary.load(dir.vocab)
            guard vocab.hash == cfg.vocabHash else {
                throw DDPLMError("'\(dir.vocab)' does not match the vocabulary in config.json (hash differs)")
            }
            trainIds = vocab.encode(trainText)
        } else {
            (vocab, trainIds) = Vocabulary.build(from: trainText, maxSize: cfg.maxVocab)
            cfg.model.vocabSize = vocab.count
            cfg.vocabHash = vocab.hash
        }
        try cfg.model.validate()
        cfg.fillPyTorchShape()
        let validIds = vocab.encode(try Corpus.load(cfg.valid, role: "validation", hint: "pass --valid FILE"))
        let testIds = vocab.encode(try Corpus.load(cfg.test, role: "test", hint: "pass --test FILE"))
        let train = try Batcher(ids: trainIds, batch: cfg.batch, bptt: cfg.bptt, name: "training corpus '\(cfg.train)'")
        let valid = try Batcher(ids: validIds, batch: cfg.batch, bptt: cfg.bptt, name: "validation corpus '\(cfg.valid)'")
        let test = try Batcher(ids: testIds, batch: cfg.batch, bptt: cfg.bptt, name: "test corpus '\(cfg.test)'")
        let tokenizeSeconds = Date().timeIntervalSince(t0)
        config = cfg

        // corpus first: a different corpus also changes the vocabulary and so the config's vocab hash
        let textHash = trainText.withUnsafeBytes { FNV1a64.hash($0) }
        try comm.verifySame(idsHash(trainIds) ^ textHash, what: "the training corpus (different files on different hosts?)")
        try comm.verifySame(idsHash(validIds) ^ idsHash(testIds) &* 31, what: "the validation/test corpora")
        try comm.verifySame(cfg.hash, what: "the configuration (flags differ between ranks)")

        // --- model, optimiser, this rank's columns
        let b = cfg.batch / n, firstColumn = rank * b
        let stepper = TrainingStep(config: cfg.model, batch: b, maxT: cfg.bptt, chunkRows: cfg.chunkRows,
                                   threads: options.threads, comm: comm, clip: cfg.clip)
        let model = stepper.model, adam = stepper.adam
        let carry = model.makeState()
        var state = TrainerState(lr: cfg.lr)
        state.vocabHash = vocab.hash
        if let f = resumeFile {
            state = try restore(from: f, model: model, adam: adam, carry: carry, firstColumn: firstColumn)
            if state.ranks != n { say("resuming a \(state.ranks)-rank run on \(n) ranks: hidden-state carries re-sliced by column") }
        } else {
            model.initialize(seed: cfg.seed)
        }
        state.ranks = n
        state.threads = options.threads
        try comm.verifySame(FNV1a64.hash(UnsafeRawBufferPointer(start: model.params.ptr, count: model.parameterCount * 4)),
                            what: "the initial weights")

        // --- run directory (rank 0 writes; nothing is touched before all inputs proved valid)
        var metrics: LineLog?
        if isRoot {
            if !options.resume {
                if dir.hasRun && !options.overwrite {
                    throw DDPLMError("'\(dir.path)' already holds a run; continue it with --resume \(dir.path), pass --overwrite, or choose another --out")
                }
                try AtomicFile.makeDirectory(dir.path)
                if options.overwrite {
                    for f in [dir.model, dir.latest, dir.metrics] { try? FileManager.default.removeItem(atPath: f) }
                }
                try AtomicFile.write(try cfg.encoded(), to: dir.config)
                try AtomicFile.write(vocab.fileContents, to: dir.vocab)
            } else {
                try AtomicFile.write(try cfg.encoded(), to: dir.config)  // records changed stop conditions
            }
            metrics = try LineLog(path: dir.metrics)
            AtomicFile.removeStaleTemporaries(in: dir.path)
        }
        try comm.barrier()

        say("ddplm: \(cfg.model.cell.torchName) V=\(cfg.model.vocabSize) E=\(cfg.model.embedding) H=\(cfg.model.hidden) layers=\(cfg.model.layers) params=\(model.parameterCount) | batch \(cfg.batch) (\(n) rank\(n == 1 ? "" : "s") × \(b)) bptt \(cfg.bptt) | \(train.windowCount) steps/epoch | \(trainIds.count) train tokens tokenised in \(Format.fixed(tokenizeSeconds, 2))s")
        if options.resume { say("resumed from \(dir.latest) at step \(state.step) (epoch \(state.epoch + 1), window \(state.window)/\(train.windowCount)), lr \(Format.sci(state.lr))") }

        // --- the loop
        let p = model.parameterCount
        let x = UnsafeMutablePointer<Int32>.allocate(capacity: cfg.bptt * b)
        let y = UnsafeMutablePointer<Int32>.allocate(capacity: cfg.bptt * b)
        defer { x.deallocate(); y.deallocate() }
        let bestParams = FloatBuffer(count: p)
        var haveBest = false
        if options.resume, FileManager.default.fileExists(atPath: dir.model), state.bestSavedLoss != nil {
            try Checkpoint.load(model.layout, from: try SafeTensors.read(path: dir.model), into: bestParams.ptr, name: "'\(dir.model)'")
            haveBest = true
        }
        let start = Date()
        var lastLog = Date(), lastLogStep = state.step, intervalLoss = 0.0, intervalSteps = 0
        var lastNorm = 0.0
        var stop: TrainSummary.Stop?

        var pausedSeconds = 0.0  // validation time inside the current log interval (not training throughput)
        func validate(scheduled: Bool) throws {
            let began = Date()
            defer { pausedSeconds += Date().timeIntervalSince(began) }
            let (l, c) = Evaluator.run(model: model, data: valid, firstColumn: firstColumn)
            let s = try comm.allReduceSum([l, Double(c)])
            let v = try comm.broadcast([s[0] / s[1]])[0]
            var decision = "improved"
            if scheduled {
                if state.bestValLoss.map({ v < $0 }) ?? true { state.bestValLoss = v } else {
                    state.lr *= cfg.lrDecay
                    state.decays += 1
                    decision = "no improvement: lr → \(Format.sci(state.lr))"
                }
            }
            if state.bestSavedLoss.map({ v < $0 }) ?? true {
                state.bestSavedLoss = v
                bestParams.ptr.update(from: model.params.ptr, count: p)
                haveBest = true
                if isRoot {
                    try Checkpoint.saveModel(model, to: dir.model, metadata: ["ddplm.step": "\(state.step)", "ddplm.val_loss": "\(v)"])
                }
                decision += ", saved \(dir.model)"
            } else if !scheduled {
                decision = "not better than \(Format.fixed(state.bestSavedLoss ?? .nan, 4))"
            }
            state.lastValidatedStep = state.step
            say("valid step \(state.step) | loss \(Format.fixed(v, 4)) | ppl \(Format.fixed(Format.ppl(v), 2)) | \(decision)")
            try metrics?.append(Format.json([("type", "valid"), ("step", state.step), ("epoch", state.epoch + 1),
                                             ("loss", v), ("ppl", Format.ppl(v)), ("lr", state.lr), ("tokens", state.tokens),
                                             ("best", state.bestSavedLoss ?? v)]))
        }

        func saveLatest() throws {
            try stepper.gatherOptimizerState()
            let full = cfg.model.layers * cfg.batch * cfg.model.hidden
            let hAll = FloatBuffer(count: full), cAll = FloatBuffer(count: carry.c.count == 0 ? 0 : full)
            scatterColumns(local: carry.h, into: hAll, firstColumn: firstColumn)
            try comm.allReduceSum(hAll.ptr, count: hAll.count)
            if cAll.count > 0 {
                scatterColumns(local: carry.c, into: cAll, firstColumn: firstColumn)
                try comm.allReduceSum(cAll.ptr, count: cAll.count)
            }
            guard isRoot else { return }
            state.adamStep = adam.step
            var tensors = Checkpoint.tensors(of: model.layout, in: model.params.ptr)
            tensors += Checkpoint.tensors(of: model.layout, in: adam.m.ptr, prefix: "optimizer.exp_avg.")
            tensors += Checkpoint.tensors(of: model.layout, in: adam.v.ptr, prefix: "optimizer.exp_avg_sq.")
            let shape = [cfg.model.layers, cfg.batch, cfg.model.hidden]
            tensors.append(.init(name: "state.h", shape: shape, data: hAll.ptr))
            if cAll.count > 0 { tensors.append(.init(name: "state.c", shape: shape, data: cAll.ptr)) }
            let js = String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
            try SafeTensors.write(tensors, metadata: ["ddplm.trainer": js], to: dir.latest)
        }

        if state.epoch >= cfg.epochs { stop = .epochs }
        if cfg.maxSteps > 0 && state.step >= cfg.maxSteps { stop = .maxSteps }
        while stop == nil {
            let t = train.fill(window: state.window, firstColumn: firstColumn, columns: b, x: x, y: y)
            let minutes = Date().timeIntervalSince(start) / 60
            let r = try stepper.run(x: x, y: y, t: t, carry: carry,
                                    dropout: DropoutKey(seed: cfg.seed, step: UInt64(state.step), firstColumn: firstColumn),
                                    lr: state.lr, signalled: options.stopRequested(),
                                    timeUp: cfg.maxMinutes > 0 && minutes >= cfg.maxMinutes,
                                    poison: options.injectNaNAtStep == state.step)
            if !r.finite {
                let what = "non-finite \(r.loss.isFinite ? "gradient norm" : "loss") (\(r.loss.isFinite ? r.gradNorm : r.loss)) at step \(state.step + 1)"
                guard cfg.skipNonFinite else {
                    throw DDPLMError("\(what): training stopped; the checkpoints in '\(dir.path)' hold the last good state (lower --lr, or pass --skip-nonfinite)")
                }
                say("\(what): step skipped, hidden state reset")
                carry.reset()
            } else {
                intervalLoss += r.loss
                intervalSteps += 1
                lastNorm = r.gradNorm
            }
            state.step += 1
            state.window += 1
            state.tokens += t * cfg.batch

            if state.step % cfg.logEvery == 0 || state.window == train.windowCount {
                let now = Date()
                let dt = max(now.timeIntervalSince(lastLog) - pausedSeconds, 1e-9)
                pausedSeconds = 0
                let tps = Double((state.step - lastLogStep) * cfg.batch * cfg.bptt) / dt
                let mean = intervalSteps > 0 ? intervalLoss / Double(intervalSteps) : .nan
                let epochFrac = Double(state.window) / Double(train.windowCount)
                var remaining = Double((cfg.epochs - state.epoch) * train.windowCount - state.window)
                if cfg.maxSteps > 0 { remaining = min(remaining, Double(cfg.maxSteps - state.step)) }
                var eta = remaining * dt / Double(max(1, state.step - lastLogStep))
                if cfg.maxMinutes > 0 { eta = min(eta, cfg.maxMinutes * 60 - now.timeIntervalSince(start)) }
                say("step \(state.step) | epoch \(state.epoch + 1) \(Format.fixed(100 * epochFrac, 1))% | loss \(Format.fixed(mean, 4)) | ppl \(Format.fixed(Format.ppl(mean), 2)) | lr \(Format.sci(state.lr)) | \(Int(tps)) tok/s | ETA \(Format.duration(eta))")
                try metrics?.append(Format.json([("type", "train"), ("step", state.step), ("epoch", state.epoch + 1),
                                                 ("epoch_progress", epochFrac), ("loss", mean), ("ppl", Format.ppl(mean)),
                                                 ("lr", state.lr), ("grad_norm", lastNorm), ("tokens", state.tokens),
                                                 ("tokens_per_s", tps), ("elapsed_s", state.elapsed + now.timeIntervalSince(start))]))
                lastLog = now
                lastLogStep = state.step
                intervalLoss = 0
                intervalSteps = 0
            }
            let epochEnd = state.window == train.windowCount
            if state.step % cfg.evalEvery == 0 || epochEnd { try validate(scheduled: true) }
            if epochEnd {
                state.epoch += 1
                state.window = 0
                carry.reset()
                if state.epoch >= cfg.epochs { stop = .epochs }
            }
            if options.checkEvery > 0 && state.step % options.checkEvery == 0 {
                try comm.verifySame(FNV1a64.hash(UnsafeRawBufferPointer(start: model.params.ptr, count: p * 4)),
                                    what: "the weights at step \(state.step) (ranks drifted apart)")
            }
            if cfg.maxSteps > 0 && state.step >= cfg.maxSteps { stop = stop ?? .maxSteps }
            if r.timeUp { stop = stop ?? .maxMinutes }
            if r.signalled { stop = .signal }
            if stop == nil && cfg.saveEvery > 0 && state.step % cfg.saveEvery == 0 { try saveLatest() }
        }
        let trained = Date().timeIntervalSince(start)
        state.elapsed += trained

        // --- the end: make sure the best model reflects the final weights, checkpoint, test
        let finalStop = stop!
        if finalStop != .signal && state.lastValidatedStep != state.step { try validate(scheduled: false) }
        try saveLatest()
        say("\(finalStop == .signal ? "stopped by signal" : "finished (\(finalStop.rawValue))") at step \(state.step); latest state in \(dir.latest)")
        var testLoss: Double?
        if finalStop != .signal && haveBest {
            model.params.ptr.update(from: bestParams.ptr, count: p)
            let (l, c) = Evaluator.run(model: model, data: test, firstColumn: firstColumn)
            let s = try comm.allReduceSum([l, Double(c)])
            testLoss = s[0] / s[1]
            say("test (best model, valid loss \(Format.fixed(state.bestSavedLoss ?? .nan, 4))) | loss \(Format.fixed(testLoss!, 4)) | ppl \(Format.fixed(Format.ppl(testLoss!), 2))")
            try metrics?.append(Format.json([("type", "test"), ("step", state.step), ("loss", testLoss!), ("ppl", Format.ppl(testLoss!)),
                                             ("best_valid_loss", state.bestSavedLoss ?? .nan)]))
        }
        return TrainSummary(state: state, stop: finalStop, testLoss: testLoss,
                            tokensPerSecond: Double(state.tokens) / max(state.elapsed, 1e-9))
    }

    /// Reads weights, Adam moments, this rank's carries and the counters from latest.safetensors.
    private func restore(from f: SafeTensors, model: LanguageModel, adam: Adam, carry: RecurrentState, firstColumn: Int) throws -> TrainerState {
        let name = "'\(dir.latest)'"
        guard let js = f.metadata["ddplm.trainer"],
              let state = try? JSONDecoder().decode(TrainerState.self, from: Data(js.utf8)) else {
            throw DDPLMError("\(name) has no trainer state (not a ddplm latest checkpoint)")
        }
        guard state.vocabHash == config.vocabHash else { throw DDPLMError("\(name) was trained with a different vocabulary") }
        try Checkpoint.load(model.layout, from: f, into: model.params.ptr, name: name)
        try Checkpoint.load(model.layout, from: f, prefix: "optimizer.exp_avg.", into: adam.m.ptr, name: name)
        try Checkpoint.load(model.layout, from: f, prefix: "optimizer.exp_avg_sq.", into: adam.v.ptr, name: name)
        adam.step = state.adamStep
        let cm = config.model
        let shape = [cm.layers, config.batch, cm.hidden]
        let full = FloatBuffer(count: cm.layers * config.batch * cm.hidden)
        try f.copyFloats("state.h", shape: shape, into: full.ptr, file: name)
        gatherColumns(from: full, into: carry.h, firstColumn: firstColumn)
        if carry.c.count > 0 {
            try f.copyFloats("state.c", shape: shape, into: full.ptr, file: name)
            gatherColumns(from: full, into: carry.c, firstColumn: firstColumn)
        }
        return state
    }

    /// local [L, b, H] → its columns of full [L, B, H] (others left as they are).
    private func scatterColumns(local: FloatBuffer, into full: FloatBuffer, firstColumn: Int) {
        let l = config.model.layers, h = config.model.hidden, bl = local.count / max(1, l * h)
        for k in 0..<l {
            (full.ptr + (k * config.batch + firstColumn) * h).update(from: local.ptr + k * bl * h, count: bl * h)
        }
    }

    private func gatherColumns(from full: FloatBuffer, into local: FloatBuffer, firstColumn: Int) {
        let l = config.model.layers, h = config.model.hidden, bl = local.count / max(1, l * h)
        for k in 0..<l {
            (local.ptr + k * bl * h).update(from: full.ptr + (k * config.batch + firstColumn) * h, count: bl * h)
        }
    }

    /// The counters stored in a latest.safetensors, if it is readable.
    public static func savedState(_ path: String) -> TrainerState? {
        guard let f = try? SafeTensors.read(path: path), let js = f.metadata["ddplm.trainer"] else { return nil }
        return try? JSONDecoder().decode(TrainerState.self, from: Data(js.utf8))
    }

    private func idsHash(_ ids: [Int32]) -> UInt64 { ids.withUnsafeBytes { FNV1a64.hash($0) } }
}
