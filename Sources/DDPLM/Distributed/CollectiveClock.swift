import Dispatch

/// Times the collectives a model runs inside its compute (the vocab-parallel decoder's and embedding's),
/// for benchmarks: they are exchange time, not compute. With `barrierFirst`, each round waits at a barrier
/// first, timed apart, so the round's time is the network's and not the wait for the slowest rank (as
/// `TrainingStep.barrierAfterCompute`).
final class CollectiveClock {
    var barrierFirst = false
    /// Nanoseconds in the collectives, and in those barriers, since the last `take`.
    private var collectiveNanoseconds: UInt64 = 0
    private var barrierNanoseconds: UInt64 = 0

    /// Runs one round of collectives on `comm`.
    func time(_ comm: Communicator, _ body: () throws -> Void) throws {
        var t0 = DispatchTime.now().uptimeNanoseconds
        if barrierFirst {
            try comm.barrier()
            let t1 = DispatchTime.now().uptimeNanoseconds
            barrierNanoseconds += t1 - t0
            t0 = t1
        }
        try body()
        collectiveNanoseconds += DispatchTime.now().uptimeNanoseconds - t0
    }

    /// The collectives' and barriers' seconds since the last call.
    func take() -> (collectives: Double, barriers: Double) {
        defer { collectiveNanoseconds = 0; barrierNanoseconds = 0 }
        return (Double(collectiveNanoseconds) / 1e9, Double(barrierNanoseconds) / 1e9)
    }
}
