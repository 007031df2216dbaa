import DDPLM
import Foundation

/// Process-wide setup shared by the subcommands: communicator, threads, error exit.
enum Runtime {
    /// True when launched by mpirun/srun (any PMI/PMIx environment).
    static var launchedByMPI: Bool {
        let env = ProcessInfo.processInfo.environment
        return env["OMPI_COMM_WORLD_SIZE"] != nil || env["PMIX_RANK"] != nil || env["PMI_RANK"] != nil
    }

    /// This process's rank from the launcher's environment (0 when not under mpirun), for subcommands
    /// that do not need MPI itself.
    static var launcherRank: Int {
        let env = ProcessInfo.processInfo.environment
        return (env["OMPI_COMM_WORLD_RANK"] ?? env["PMIX_RANK"] ?? env["PMI_RANK"]).flatMap(Int.init) ?? 0
    }

    /// MPI under mpirun, otherwise the single-process communicator (MPI is never initialised).
    static func communicator() throws -> Communicator {
        launchedByMPI ? try MPICommunicator() : SingleProcessCommunicator()
    }

    /// Threads per rank: explicit, else $OPENBLAS_NUM_THREADS, else this rank's share of the cores.
    static func threads(_ requested: Int?) throws -> Int {
        if let r = requested {
            guard r > 0 else { throw DDPLMError("--threads must be positive (got \(r))") }
            return r
        }
        let env = ProcessInfo.processInfo.environment
        if let s = env["OPENBLAS_NUM_THREADS"], let v = Int(s), v > 0 { return v }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let local = env["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1
        return max(1, cores / max(1, local))
    }

    static func configureThreads(_ n: Int) { BLASInfo.setThreads(n) }

    /// The start of every compute subcommand: communicator (stored in `comm` for error reporting) and
    /// BLAS threads. Returns the thread count.
    static func start(_ comm: inout Communicator?, threads requested: Int?) throws -> (Communicator, Int) {
        let c = try communicator()
        comm = c
        let threads = try threads(requested)
        configureThreads(threads)
        return (c, threads)
    }

    /// Runs `body`; a DDPLMError becomes one line on stderr and a non-zero exit (MPI_Abort for the whole
    /// job when there are several ranks, so nobody waits forever in a collective).
    static func guarded(_ body: (inout Communicator?) throws -> Void) -> Never {
        var comm: Communicator?
        do {
            try body(&comm)
            (comm as? MPICommunicator)?.finalize()
            exit(0)
        } catch {
            let who = (comm?.size ?? 1) > 1 ? "[rank \(comm!.rank)] " : ""
            FileHandle.standardError.write(Data("ddplm: error: \(who)\(error)\n".utf8))
            if let c = comm, c.size > 1 { c.abort(code: 1) }
            exit(1)
        }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("ddplm: error: \(message)\n".utf8))
        exit(1)
    }

    /// One line about the numeric environment, for start-up logs and bench output.
    static var blasLine: String {
        var s = "OpenBLAS core \(BLASInfo.coreName), \(BLASInfo.threads) thread\(BLASInfo.threads == 1 ? "" : "s")"
        if let note = BLASSetup.note { s += " (\(note))" }
        return s
    }
}
