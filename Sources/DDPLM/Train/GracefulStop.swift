import Glibc

/// SIGINT/SIGTERM (and SIGUSR1/SIGUSR2, which mpirun forwards to every rank) → a graceful stop: the
/// training loop finishes the current step, all ranks agree (the flag rides in the step's small
/// all-reduce), the latest checkpoint is written and the process exits 0.
///
/// Signals that arrive within `burstWindow` of the first one are the same request: at a time limit Slurm
/// sends SIGTERM, SIGCONT and SIGTERM again within ~10 ms, and that must still end with a checkpoint.
/// A signal that comes later — a person pressing Ctrl-C again, seconds after the first — exits at once
/// (status 128+signal), removing the temp file of a checkpoint being written; atomic writes mean nothing
/// on disk is half-written.
public enum GracefulStop {
    /// Seconds after the first signal during which further signals repeat the same request.
    static let burstWindow: Int64 = 1_000_000_000
    nonisolated(unsafe) static var count: sig_atomic_t = 0
    nonisolated(unsafe) static var firstAt: Int64 = 0

    /// Whether a signal at `now` (monotonic ns) means "exit at once", given the first at `first`.
    static func isSecondRequest(first: Int64, now: Int64) -> Bool { now - first >= burstWindow }

    public static func install() {
        let handler: @convention(c) (Int32) -> Void = { sig in
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)  // async-signal-safe
            let now = Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
            GracefulStop.count += 1
            if GracefulStop.count == 1 {
                GracefulStop.firstAt = now
            } else if GracefulStop.isSecondRequest(first: GracefulStop.firstAt, now: now) {
                AtomicFile.unlinkInFlight()
                _exit(128 + sig)
            }
        }
        for sig in [SIGINT, SIGTERM, SIGUSR1, SIGUSR2] { signal(sig, handler) }
    }

    public static var requested: Bool { count > 0 }
}
