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

    /// MPI under mpirun, otherwise the single-process communicator (MPI is never initialised). Stored in
    /// `comm` for `guarded`'s error reporting.
    static func communicator(_ comm: inout Communicator?) throws -> Communicator {
        let c: Communicator = launchedByMPI ? try MPICommunicator() : SingleProcessCommunicator()
        comm = c
        return c
    }

    /// Threads per rank: explicit, else $OPENBLAS_NUM_THREADS, else this rank's share of the cores.
    static func threadCount(_ requested: Int?) throws -> Int {
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

    /// Chooses and sets the thread count (OpenBLAS and the elementwise workers, together).
    static func configureThreads(_ requested: Int?) throws -> ComputeThreads {
        ComputeThreads.configure(try threadCount(requested))
    }

    /// The start of every compute subcommand: communicator and threads.
    static func start(_ comm: inout Communicator?, threads requested: Int?) throws -> (Communicator, ComputeThreads) {
        let c = try communicator(&comm)
        return (c, try configureThreads(requested))
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

    /// One line about the numeric environment, for start-up logs and bench output.
    static var blasLine: String {
        var s = "OpenBLAS core \(BLASInfo.coreName), \(BLASInfo.threads) thread\(BLASInfo.threads == 1 ? "" : "s")"
        if let note = BLASSetup.note { s += " (\(note))" }
        return s
    }
}
