import Foundation

/// The training loop, for any `TrainingTask`, on one process or N ranks (every rank runs it; rank 0
/// alone writes files). Each step: the task's forward/backward, then `TrainingStep`'s exchange, clip and
/// Adam. Around it: epochs, stop conditions (epochs, steps, minutes, signals — agreed by all ranks),
/// validation with the learning-rate schedule and the best model, periodic and final checkpoints,
/// resume, non-finite steps, progress and metrics. It knows nothing about language models.
public final class TrainingLoop {
    /// How a training invocation runs, besides the run's settings.
    public struct Options {
        public var dir: RunDirectory
        /// Continue from dir/latest.safetensors.
        public var resume = false
        public var threads = ComputeThreads.one
        /// Whether the exchange runs during the compute (`auto`: when the ranks span several nodes).
        public var overlap = ExchangeOverlap.auto
        /// Whether ranks on one node hold one copy of the weights (`auto`: when they can).
        public var sharedWeights = NodeSharedWeights.auto
        /// Verify every K steps that all ranks hold bit-identical weights (0 = off).
        public var checkEvery = 0
        /// Progress lines (rank 0 only).
        public var progress: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        /// A redrawing status line instead of periodic progress lines (default: stderr is a terminal).
        public var liveProgress = ProgressReporter.stderrIsTerminal
        public var stopRequested: () -> Bool = { GracefulStop.requested }
        /// Test hook: poison the gradient at this (0-based) step to exercise non-finite handling.
        public var injectNaNAtStep: Int?
        /// Seconds since the process started, for the time budget's start-up (the CLI passes
        /// `RunTimeBudget.secondsSinceProcessStart`); nil leaves start-up out.
        public var secondsSinceProcessStart: (() -> Double?)?

        public init(dir: RunDirectory) { self.dir = dir }
    }

    /// What a finished invocation did.
    public struct Summary {
        public enum Stop: String { case epochs, maxSteps = "max-steps", maxMinutes = "max-minutes", signal }
        public var state: TrainerState
        public var stop: Stop
        public var testLoss: Double?
        public var testAccuracy: Double?
        public var tokensPerSecond: Double
        /// Where this invocation's wall time went.
        public var time: RunTimeBudget
    }

    let task: TrainingTask
    let training: RunConfig.TrainingConfig
    let stopAt: RunConfig.StopConfig
    let logging: RunConfig.LoggingConfig
    let options: Options
    let comm: Communicator
    let stepper: TrainingStep
    var reporter: ProgressReporter
    var state: TrainerState
    /// Weights of the best validation so far (the test runs on them).
    let bestParams: FloatBuffer
    var haveBest = false
    private var prepared = false
    private var sharingDecided = false
    /// When this invocation's training began (training seconds = state.elapsed + time since).
    private var began = Date()
    /// Where this invocation's wall time went.
    private var budget = RunTimeBudget()

    var dir: RunDirectory { options.dir }
    var store: ParameterStore { task.store }

    /// `identity` fingerprints the run's fixed settings; a checkpoint with another identity is refused.
    init(task: TrainingTask, training: RunConfig.TrainingConfig, stop: RunConfig.StopConfig, logging: RunConfig.LoggingConfig,
         identity: String, options: Options, comm: Communicator) {
        self.task = task
        self.training = training
        stopAt = stop
        self.logging = logging
        self.options = options
        self.comm = comm
        stepper = TrainingStep(store: task.store, threads: options.threads, comm: comm, clip: training.clip, wire: training.gradientWire,
                               overlap: options.overlap.enabled(nodes: comm.nodes))
        reporter = ProgressReporter(logEvery: logging.logEvery, print: nil, metrics: nil, perplexity: task.showsPerplexity)
        state = TrainerState(runIdentity: identity, schedule: LRSchedule(lr: training.lr, factor: training.lrDecay))
        bestParams = FloatBuffer(count: task.store.count)
    }

    /// Weights, optimizer state and counters: restored from latest.safetensors (checked before anything
    /// is written) or initialised, then proved equal on every rank. Writes nothing.
    func prepare() throws {
        guard !prepared else { return }
        prepared = true
        if options.resume {
            let name = "'\(dir.latest)'"
            guard dir.canResume else { throw DDPLMError("nothing to resume: '\(dir.latest)' does not exist") }
            let file = try SafeTensors.read(path: dir.latest)
            let saved = try Checkpoint.trainerState(in: file, name: name)
            guard saved.runIdentity == state.runIdentity else {
                throw DDPLMError("\(name) belongs to another run: its model, data or training settings differ from '\(dir.config)'")
            }
            state = saved
            try Checkpoint.restoreLatest(file, into: store, name: name)
            try task.restoreCarriedState(from: file, name: name)
            if FileManager.default.fileExists(atPath: dir.model), state.bestSavedLoss != nil {
                try Checkpoint.load(store.layout, from: try SafeTensors.read(path: dir.model), into: bestParams.ptr, name: "'\(dir.model)'")
                haveBest = true
            }
        } else {
            task.initializeWeights()
        }
        try comm.verifySame(store.weightsHash, what: "the initial weights")
    }

    func run() throws -> Summary {
        defer { reporter.endLive() }
        do { return try runLoop() } catch let e as CollectiveTimeout {
            throw DDPLMError("at step \(state.step + 1): \(e)")
        }
    }

    private func runLoop() throws -> Summary {
        try prepare()
        // once every rank's weights are final (a task may add to them after `prepare`: a classifier's
        // pretrained vectors), the ranks of one node may make them one copy
        if !sharingDecided {
            sharingDecided = true
            if try stepper.shareWeights(options.sharedWeights) { try task.weightsShared(comm: comm) }
        }
        try startReporting()
        budget = RunTimeBudget(startup: options.secondsSinceProcessStart?())
        began = Date()
        reporter.startInterval()
        var stop: Summary.Stop?
        if state.epoch >= stopAt.epochs { stop = .epochs }
        if stopAt.maxSteps > 0 && state.step >= stopAt.maxSteps { stop = .maxSteps }
        while stop == nil {
            stop = try trainStep()
        }
        return try finish(stop!)
    }

    /// Rank 0's reporter (metrics.jsonl, TensorBoard), the resume line, and this invocation's ranks,
    /// threads and precision in the state.
    private func startReporting() throws {
        if comm.isRoot {
            // a resumed run's new event file starts after the checkpoint's step: TensorBoard drops the
            // points the interrupted run logged past it
            let tb = logging.tensorboard ? try TensorBoardWriter(directory: dir.tensorboard, firstStep: state.step + 1) : nil
            reporter = ProgressReporter(logEvery: logging.logEvery, print: options.progress, metrics: try LineLog(path: dir.metrics),
                                        perplexity: task.showsPerplexity,
                                        tensorboard: tb, live: options.liveProgress)
        }
        reporter.note(task.summary)
        if options.resume {
            reporter.resumed(state, from: dir.latest, batchesPerEpoch: task.batchesPerEpoch, savedRanks: state.ranks, ranks: comm.size)
        }
        state.ranks = comm.size
        state.threads = options.threads.count
        state.matmulPrecision = MatmulPrecision.current.rawValue
        state.matmulKernel = MatmulPrecision.kernel?.rawValue
    }

    /// One step and what follows it (progress, scheduled validation, epoch end, checks, checkpoint);
    /// returns why to stop, if it is time to.
    private func trainStep() throws -> Summary.Stop? {
        let stepStart = Date()
        let minutes = stepStart.timeIntervalSince(began) / 60
        let index = state.window, step = state.step, epoch = state.epoch, perEpoch = task.batchesPerEpoch
        let r = try stepper.run(lr: state.lr, adamStep: state.adamStep + 1, signalled: options.stopRequested(),
                                timeUp: stopAt.maxMinutes > 0 && minutes >= stopAt.maxMinutes,
                                poison: options.injectNaNAtStep == step) { ready in
            try task.computeGradients(batch: index, epoch: epoch, step: step, ready: ready)
        }
        if r.finite {
            state.adamStep += 1
        } else {
            let what = "non-finite \(r.loss.isFinite ? "gradient norm" : "loss") (\(r.loss.isFinite ? r.gradNorm : r.loss)) at step \(state.step + 1)"
            guard logging.skipNonFinite else {
                throw DDPLMError("\(what): training stopped; the checkpoints in '\(dir.path)' hold the last good state (lower --lr, or pass --skip-nonfinite)")
            }
            reporter.skipped(what)
            task.resetCarriedState()
        }
        let items = task.items(inBatch: index, epoch: epoch)
        state.step += 1
        state.window += 1
        state.tokens += items
        reporter.step(loss: r.finite ? r.loss : nil, gradNorm: r.gradNorm, tokens: items)

        let epochEnd = state.window == perEpoch
        var stepsLeft = (stopAt.epochs - state.epoch) * perEpoch - state.window
        if stopAt.maxSteps > 0 { stepsLeft = min(stepsLeft, stopAt.maxSteps - state.step) }
        try reporter.afterStep(.init(state: state, epochFraction: Double(state.window) / Double(perEpoch), stepsLeft: stepsLeft,
                                     secondsLeft: stopAt.maxMinutes > 0 ? stopAt.maxMinutes * 60 - Date().timeIntervalSince(began) : nil,
                                     elapsed: state.elapsed + Date().timeIntervalSince(began)),
                               force: epochEnd)
        budget.steps += Date().timeIntervalSince(stepStart)
        // every --eval-every steps and at each epoch's end, but never twice within a quarter of the
        // interval (an epoch ending at step 188 and the step-200 validation would halve the lr twice)
        if (state.step % training.evalEvery == 0 || epochEnd) && state.step - state.lastValidatedStep >= max(1, training.evalEvery / 4) {
            try validate(scheduled: true)
        }
        var stop: Summary.Stop?
        if epochEnd {
            state.epoch += 1
            state.window = 0
            task.resetCarriedState()
            if state.epoch >= stopAt.epochs { stop = .epochs }
        }
        if options.checkEvery > 0 && state.step % options.checkEvery == 0 {
            try stepper.settle()
            try comm.verifySame(store.replicaHash, what: "the weights at step \(state.step) (ranks drifted apart)")
        }
        if stopAt.maxSteps > 0 && state.step >= stopAt.maxSteps { stop = stop ?? .maxSteps }
        if r.timeUp { stop = stop ?? .maxMinutes }
        if r.signalled { stop = .signal }
        if stop == nil && logging.saveEvery > 0 && state.step % logging.saveEvery == 0 { try saveLatest() }
        return stop
    }

    /// The end: the best model reflects the final weights, the checkpoint, the test, the time budget.
    private func finish(_ stop: Summary.Stop) throws -> Summary {
        state.elapsed += Date().timeIntervalSince(began)
        began = Date()  // what follows (the final validation, the test) is not training time
        if stop != .signal && state.lastValidatedStep != state.step { try validate(scheduled: false) }
        try saveLatest()
        reporter.finished(state, stop: stop, latest: dir.latest)
        var testLoss: Double?, testAccuracy: Double?
        if stop != .signal && haveBest && task.hasTestSplit {
            let testStart = Date()
            try stepper.setWeights(bestParams)
            let e = try task.evaluate(.test)
            testLoss = e.loss
            testAccuracy = e.accuracy
            try reporter.test(state, e)
            budget.test += Date().timeIntervalSince(testStart)
        }
        try reporter.time(budget)
        return Summary(state: state, stop: stop, testLoss: testLoss, testAccuracy: testAccuracy,
                       tokensPerSecond: Double(state.tokens) / max(state.elapsed, 1e-9), time: budget)
    }

    /// Validation (all ranks), the schedule (scheduled validations only) and the best model.
    private func validate(scheduled: Bool) throws {
        let validationStart = Date()
        var saving = 0.0
        defer {
            let seconds = Date().timeIntervalSince(validationStart)
            reporter.paused(seconds)
            budget.validation += seconds - saving
            budget.checkpoints += saving
        }
        // rank 0's value decides, so every rank takes the same branch
        let e = try task.evaluate(.valid)
        let agreed = try comm.broadcast([e.loss, e.accuracy ?? .nan])
        let evaluation = Evaluation(loss: agreed[0], accuracy: e.accuracy == nil ? nil : agreed[1])
        let v = evaluation.loss
        var decision = ProgressReporter.Decision()
        if scheduled { decision.improved = state.schedule.observe(validationLoss: v) }
        if state.bestSavedLoss.map({ v < $0 }) ?? true {
            try stepper.gatherWeights()  // (a vocab split's rows: the best model is the whole model)
            state.bestSavedLoss = v
            state.bestSavedStep = state.step
            bestParams.ptr.update(from: store.params.ptr, count: store.count)
            haveBest = true
            if comm.isRoot {
                let saveStart = Date()
                try Checkpoint.saveBest(store.layout, store.params.ptr, to: dir.model, step: state.step, validationLoss: v)
                saving = Date().timeIntervalSince(saveStart)
            }
            decision.saved = dir.model
        }
        state.lastValidatedStep = state.step
        try reporter.validation(state, evaluation, decision: decision, elapsed: state.elapsed + Date().timeIntervalSince(began))
    }

    /// latest.safetensors (a collective: moments and carried state are gathered; rank 0 writes).
    private func saveLatest() throws {
        let saveStart = Date()
        defer { budget.checkpoints += Date().timeIntervalSince(saveStart) }
        try stepper.gatherOptimizerState()
        let carried = try task.carriedStateTensors()
        guard comm.isRoot else { return }
        try Checkpoint.writeLatest(store, state: state, carried: carried, to: dir.latest)
    }
}
