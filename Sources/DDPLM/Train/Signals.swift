import Glibc

/// SIGINT/SIGTERM (and SIGUSR1/SIGUSR2, which mpirun forwards to every rank) → a graceful stop: the
/// training loop finishes the current step, all ranks agree (the flag rides in the step's small
/// all-reduce), the latest checkpoint is written and the process exits 0.
/// A second signal exits at once (status 128+signal), removing the temp file of a checkpoint being
/// written; atomic writes mean nothing on disk is half-written.
public enum GracefulStop {
    nonisolated(unsafe) static var count: sig_atomic_t = 0

    public static func install() {
        let handler: @convention(c) (Int32) -> Void = { sig in
            GracefulStop.count += 1
            if GracefulStop.count > 1 {
                AtomicFile.unlinkInFlight()
                _exit(128 + sig)
            }
        }
        for sig in [SIGINT, SIGTERM, SIGUSR1, SIGUSR2] { signal(sig, handler) }
    }

    static var requested: Bool { count > 0 }
}
