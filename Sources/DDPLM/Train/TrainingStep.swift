import Dispatch

/// One data-parallel optimisation step over a `ParameterStore`, for any model: the caller's `compute`
/// closure runs forward/backward on this rank's share of the global batch, accumulating into
/// `store.grads` its share of the gradient of the global batch's mean loss (each item's gradient scaled
/// by 1/(global items), the same float on every rank and in one process), and returns a loss whose mean
/// over ranks is the batch's mean loss.
///
/// One rank: compute → global-norm clip → Adam.
/// N ranks (ZeRO-1): compute → ring reduce-scatter of the gradients (each rank receives the sum over
/// ranks for its optimizer shard) → one all-reduce of 4 doubles: the loss, the two stop votes and the
/// shards' sums of squares (the global norm) → Adam on this rank's shard only → all-gather of the
/// updated parameters.
/// That moves the same bytes as one all-reduce, and the Adam pass is split N ways. The clip factor is
/// applied inside the Adam loop. Every rank ends with bit-identical weights. Allocates nothing.
///
/// With a second channel (`Communicator.makeExchangeChannel`), the exchange is overlapped with the
/// compute (`OverlappedExchange`): segments of the gradient start their reduce-scatter on the exchange
/// thread as the model reports them final, and the weight all-gather is left running into the next
/// step's forward, which awaits each range before it reads it. The sums and copies are the same, so the
/// weights are the same bits as without overlap; anything else reading the weights waits for the
/// all-gather (`ParameterStore.params`).
///
/// An untied embedding table (the store's `replicated` prefix) is not sharded: its gradient rows are
/// summed by `SparseRowExchange` (only the rows some rank's tokens touched travel), and every rank
/// updates the whole table itself, so it needs no all-gather either. At the lecture's config that is
/// half the bytes of the exchange.
///
/// On one node (`NodeSharedWeights`, `shareWeights`), the ranks hold one copy of the weights and
/// moments in memory they all map: each rank's Adam writes its shard (and its rows of the replicated
/// table) there, and a barrier takes the all-gather's place.
///
/// A decoder split by vocabulary rows (`ParameterStore.vocabSplit`, `--vocab-parallel`) is not sharded
/// either: each rank's model computes its own rows' whole gradient (`VocabParallelDecoder`), and the
/// rank updates those rows itself. Their weights reach the other ranks only when something reads the
/// whole model (`gatherWeights`).
public final class TrainingStep {
    let store: ParameterStore
    let adam: Adam
    let comm: Communicator
    let clip: Double
    /// The gradient reduce-scatter's wire format (`GradientWire`).
    let wire: GradientWire
    let control: UnsafeMutablePointer<Double>
    /// The sparse exchange of the replicated embedding (N ranks with an untied table only).
    let sparse: SparseRowExchange?
    /// The reduce-scatter overlapped with the backward (N ranks, when the communicator has a second
    /// channel and `overlap` was asked for).
    let overlapped: OverlappedExchange?
    /// Every rank's rows of a vocab-split decoder (`ParameterStore.vocabOwned`), made once, and whether
    /// other ranks' rows are stale since the last `gatherWeights`.
    private let vocabOwnedByRank: [[Range<Int>]]
    private var vocabOwned: [Range<Int>] { vocabOwnedByRank[comm.rank] }
    private var vocabStale = false

    /// Seconds spent per phase, accumulated over steps: compute (forward+backward), gradient exchange
    /// (what is left of the reduce-scatter after the compute, or nothing on one rank), norm (sum of
    /// squares + the small all-reduce), Adam, weight all-gather; the barrier of `barrierAfterCompute` (0
    /// unless set); and, not part of the step's time, the exchange thread's reduce-scatter time hidden
    /// behind the compute, the window it had (from the first segment ready to the end of the compute),
    /// and the time the forward waited for weights still arriving from the overlapped all-gather (taken
    /// out of the compute phase: it is exchange time).
    public static let phaseNames = ["compute", "grad_exchange", "norm_allreduce", "adam", "weight_allgather", "rank_wait",
                                    "exchange_overlapped", "overlap_window", "weight_wait"]
    static let exchangePhases = [1, 2, 4, 8]
    /// Benchmarks only: a barrier between compute and the exchange, timed as its own phase, so that the
    /// exchange phases time the network and not the wait for the slowest rank's compute (ranks
    /// oversubscribed on few cores finish their compute far apart). Off in training.
    var barrierAfterCompute = false
    private var phaseClock: UInt64 = 0
    private let phaseBuffer: UnsafeMutablePointer<Double>

    struct Result {
        /// Mean loss over the global batch.
        var loss: Double
        /// Global gradient norm before clipping.
        var gradNorm: Double
        /// Some rank was asked to stop by a signal.
        var signalled: Bool
        /// Some rank ran out of its time budget.
        var timeUp: Bool
        /// False when the loss or gradient was NaN/Inf: the weights were left untouched.
        var finite: Bool
    }

    /// `overlap`: run the reduce-scatter on the exchange thread during the backward when the communicator
    /// offers a channel for it (every rank must pass the same value: making the channel is collective).
    init(store: ParameterStore, threads: ComputeThreads, comm: Communicator, clip: Double, wire: GradientWire = .fp32,
         overlap: Bool = false, segments: OverlappedExchange.Limits = .standard) {
        precondition(store.ranks == comm.size, "the parameter store is padded for \(store.ranks) ranks, the job has \(comm.size)")
        self.store = store
        self.adam = Adam(threads: threads)
        self.comm = comm
        self.clip = clip
        self.wire = wire
        control = .allocate(capacity: 4)
        vocabOwnedByRank = (0..<comm.size).map { store.vocabOwned(rank: $0) }
        sparse = store.touched.flatMap { touched in
            store.layout.sparseRows.map { SparseRowExchange(touched: touched, width: $0.width, ranks: comm.size) }
        }
        phaseBuffer = .allocate(capacity: TrainingStep.phaseNames.count)
        phaseBuffer.initialize(repeating: 0, count: TrainingStep.phaseNames.count)
        if overlap, comm.size > 1, let channel = comm.makeExchangeChannel() {
            let cuts = store.layout.stored.map { $0.offset }
            overlapped = OverlappedExchange(grads: store.grads, params: store.paramsInFlight, shard: store.shard, ranks: comm.size,
                                            rank: comm.rank, parameters: store.count, cuts: cuts, wire: wire, channel: channel,
                                            rows: sparse, limits: segments)
            store.settling = overlapped
        } else {
            overlapped = nil
        }
    }

    deinit { control.deallocate(); phaseBuffer.deallocate() }

    @inline(__always) private func lap(_ phase: Int) {
        let now = DispatchTime.now().uptimeNanoseconds
        phaseBuffer[phase] += Double(now &- phaseClock) / 1e9
        phaseClock = now
    }

    /// Per-phase seconds accumulated so far (see `phaseNames`).
    var phases: [Double] { (0..<TrainingStep.phaseNames.count).map { phaseBuffer[$0] } }
    /// One phase's seconds so far, without building `phases` (benchmarks read it between steps).
    func phase(_ i: Int) -> Double { phaseBuffer[i] }
    func resetPhases() { for i in 0..<TrainingStep.phaseNames.count { phaseBuffer[i] = 0 } }

    /// `adamStep` is the number this update gets if it is applied (1 for the first). `signalled`/`timeUp`
    /// are this rank's stop votes; the result says whether any rank voted. `poison` (tests) turns the
    /// gradient into NaN to exercise the non-finite path. `compute` gets the listener to report final
    /// gradients to (nil without overlap).
    func run(lr: Double, adamStep: Int, signalled: Bool = false, timeUp: Bool = false, poison: Bool = false,
             compute: (ExchangeSchedule?) throws -> Double) throws -> Result {
        let n = comm.size, shard = store.shard
        phaseClock = DispatchTime.now().uptimeNanoseconds
        store.zeroGradients()
        let g = store.grads.ptr
        if poison { g[0] = .nan; store.touched?.mark(0) }
        overlapped?.begin()
        control[0] = try compute(overlapped)
        control[1] = signalled ? 1 : 0
        control[2] = timeUp ? 1 : 0
        lap(0)
        var shardSquares: Double?  // the shard's sum of squares, when the sum over ranks took it
        if barrierAfterCompute { try comm.barrier(); lap(5) }
        if n > 1 {
            if let overlapped {  // the sparse rows too, on the exchange thread
                try overlapped.finish()
                phaseBuffer[6] += overlapped.overlappedSeconds
                phaseBuffer[7] += overlapped.windowSeconds
                // the forward's waits for weights are exchange time, not compute
                let waited = Double(overlapped.waitedNanoseconds) / 1e9
                phaseBuffer[8] += waited
                phaseBuffer[0] -= waited
                overlapped.waitedNanoseconds = 0
            } else {
                try sparse?.sum(g, channel: comm)
                if store.sharedGradients {
                    try comm.barrier()  // every rank's gradient is final
                    shardSquares = store.sumSharedGradients(parts: adam.threads.count)
                } else {
                    for round in shard.rounds {
                        try wire.reduceScatter(comm, g + round.start, countPerRank: round.chunk, stride: round.chunk)
                    }
                }
            }
        }
        lap(1)
        // each rank's shard, and the replicated table once (rank 0's; every rank holds the same): its
        // summed union rows, packed, the rest of the table being exactly zero
        control[3] = (shardSquares ?? shard.owned.reduce(0) { $0 + GradClip.sumOfSquares(g + $1.lowerBound, count: $1.count) })
            + (comm.rank == 0 ? sparse?.unionSumOfSquares() ?? 0 : 0)
            + vocabOwned.reduce(0) { $0 + GradClip.sumOfSquares(g + $1.lowerBound, count: $1.count) }
        // loss, stop votes and the norm's sum of squares in one round trip (each summed in rank order)
        try comm.allReduceSum(control, count: 4)
        lap(2)
        // the gradients' sum over ranks is the batch's gradient; the losses' mean is the batch's loss
        let loss = control[0] / Double(n)
        let norm = control[3].squareRoot()
        let finite = loss.isFinite && norm.isFinite
        if finite {
            let scale = GradClip.coefficient(norm: norm, maxNorm: clip)
            // this rank's shard, the replicated table (every rank the same) and a vocab split's own rows,
            // each range's gradient zeroed as Adam reads it (the next step's zeroing skips them)
            for range in store.updated {
                adam.update(store, range: range, step: adamStep, lr: lr, gradScale: scale, zeroingGradients: true)
            }
            store.updateZeroedGradients = true
            vocabStale = store.vocabSplit != nil && !store.nodeShared
            lap(3)
            if n > 1 {
                if store.nodeShared {
                    try comm.barrier()  // every rank's update is in place before anyone reads it
                } else if let overlapped {
                    overlapped.startAllGather()
                } else {
                    try allGatherShards(store.params)
                }
            }
            lap(4)
        }
        return Result(loss: loss, gradNorm: norm, signalled: control[1] > 0, timeUp: control[2] > 0, finite: finite)
    }

    /// `run` for a compute that reports nothing (the whole exchange waits for its end).
    func run(lr: Double, adamStep: Int, signalled: Bool = false, timeUp: Bool = false, poison: Bool = false,
             compute: () throws -> Double) throws -> Result {
        try run(lr: lr, adamStep: adamStep, signalled: signalled, timeUp: timeUp, poison: poison) { (_: ExchangeSchedule?) in try compute() }
    }

    /// Brings every rank's weights together, for whatever reads the whole model (validation, checkpoints,
    /// the cross-rank check): waits for the all-gather in flight, and with a vocab-split decoder
    /// broadcasts each rank's rows. A collective; cheap when nothing is stale.
    func gatherWeights() throws {
        guard comm.size > 1 else { return }
        try settle()
        guard vocabStale else { return }
        try broadcastVocabRows(store.params)
        vocabStale = false
    }

    /// Makes the weights and moments the node's one copy when `mode` allows it (`NodeSharedWeights`) and
    /// the communicator can allocate the memory: rank 0's weights and moments go there, and every rank
    /// reads and updates that copy from now on. A collective, once the weights are set (initialised or
    /// restored, and proved equal on every rank). Returns whether they are shared.
    @discardableResult
    func shareWeights(_ mode: NodeSharedWeights) throws -> Bool {
        guard !store.nodeShared else { return true }
        guard mode.enabled(ranks: comm.size, nodes: comm.nodes, overlapped: overlapped != nil),
              let memory = try comm.allocateNodeShared(bytes: 3 * store.nodeSharedStride * 4) else { return false }
        let gradients = NodeSharedWeights.sumsGradients(wire: wire, ranks: comm.size)
            ? try comm.allocateNodeShared(bytes: comm.size * store.nodeSharedStride * 4) : nil
        if comm.isRoot {
            let stride = store.nodeSharedStride, n = store.paramsInFlight.count
            for (i, buffer) in [store.params, store.m, store.v].enumerated() {
                (memory + i * stride * 4).assumingMemoryBound(to: Float.self).update(from: buffer.ptr, count: n)
            }
        }
        try comm.barrier()  // rank 0's copy is in place
        store.useNodeShared(memory, gradients: gradients, rank: comm.rank)
        return true
    }

    /// Sets the weights to `weights` (the best model, for the test) on every rank: node-shared, once,
    /// by rank 0, between barriers (no rank still reads the old ones, none reads before they are set).
    func setWeights(_ weights: FloatBuffer) throws {
        guard store.nodeShared else { return store.params.ptr.update(from: weights.ptr, count: store.count) }
        try comm.barrier()
        if comm.isRoot { store.params.ptr.update(from: weights.ptr, count: store.count) }
        try comm.barrier()
    }

    /// Waits for the overlapped all-gather still in flight, if any (it must end before MPI does).
    func settle() throws { try overlapped?.settle() }

    /// Every rank's pieces of the sharded region of `buffer` to every rank, round by round.
    private func allGatherShards(_ buffer: FloatBuffer) throws {
        for round in store.shard.rounds { try comm.allGather(buffer.ptr + round.start, countPerRank: round.chunk) }
    }

    /// Each rank's rows of a vocab-split decoder in `buffer`, from their owner to every rank.
    private func broadcastVocabRows(_ buffer: FloatBuffer) throws {
        for r in 0..<comm.size {
            for range in vocabOwnedByRank[r] {
                try comm.broadcast(buffer.ptr + range.lowerBound, bytes: range.count * 4, root: r)
            }
        }
    }

    /// Brings every rank's weights and Adam moments together (each rank only updates its shard's and its
    /// vocabulary rows'); for checkpoints.
    func gatherOptimizerState() throws {
        guard comm.size > 1 else { return }
        try gatherWeights()
        if store.nodeShared { return }  // one copy, complete since the step's barrier
        try allGatherShards(store.m)
        try allGatherShards(store.v)
        try broadcastVocabRows(store.m)  // (nothing without a vocab split)
        try broadcastVocabRows(store.v)
    }
}
