import DDPLM
import Foundation

/// Process-wide setup shared by the subcommands: communicator, threads, error exit.
enum Runtime {
    /// How this process was launched (mpirun, srun, alone), from the environment.
    static let launch = LaunchEnvironment.current(ProcessInfo.processInfo.environment)
    /// Why the thread count is what it is (for `info` and the start-up line).
    nonisolated(unsafe) static var threadsReason = ""

    /// MPI under mpirun/srun, otherwise the single-process communicator (MPI is never initialised).
    /// Stored in `comm` for `guarded`'s error reporting.
    static func communicator(_ comm: inout Communicator?, hangTimeout: Double) throws -> Communicator {
        if let why = launch.refusal { throw DDPLMError(why) }
        guard hangTimeout >= 0, hangTimeout.isFinite else { throw DDPLMError("--hang-timeout must not be negative (got \(hangTimeout))") }
        let c: Communicator = launch.usesMPI ? try MPICommunicator(hangTimeout: hangTimeout) : SingleProcessCommunicator()
        comm = c
        return c
    }

    /// Chooses and sets the thread count (OpenBLAS and the elementwise workers, together).
    static func configureThreads(_ requested: Int?) throws -> ComputeThreads {
        if let r = requested, r <= 0 { throw DDPLMError("--threads must be positive (got \(r))") }
        let (n, why) = launch.threads(requested: requested)
        threadsReason = why
        return ComputeThreads.configure(n)
    }

    /// Sets the matrix products' precision before any model is built: the one asked for, else for a
    /// command that reads a saved run (`run`) the precision it trained with, else highest. A run trained
    /// in medium is read in highest on a machine without AVX512-BF16, with a note.
    static func configurePrecision(_ requested: MatmulPrecision?, run: String? = nil) throws {
        guard let run else { return try MatmulPrecision.set(requested ?? .highest) }
        let (p, why) = try MatmulPrecision.forSavedRun(requested: requested, saved: try Checkpoint.savedPrecision(run), resuming: false, run: run)
        if let why, launch.rank == 0 { note(why) }
        try MatmulPrecision.set(p)
    }

    /// The start of every compute subcommand: communicator, threads, precision (`run`: the saved run the
    /// command reads, whose precision is the default).
    static func start(_ comm: inout Communicator?, _ options: RuntimeOptions, run: String? = nil) throws -> (Communicator, ComputeThreads) {
        let c = try communicator(&comm, hangTimeout: options.hangTimeout)
        let threads = try configureThreads(options.threads)
        try configurePrecision(options.matmulPrecision, run: run)
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

    /// "ddplm: note: …" on stderr (the caller decides which rank says it).
    static func note(_ text: String) {
        FileHandle.standardError.write(Data("ddplm: note: \(text)\n".utf8))
    }

    /// "N ranks", and on N ranks over how many nodes and how the gradient exchange runs (for the start-up
    /// line of a training run).
    static func ranksLine(_ c: Communicator, _ exchange: ExchangeOptions) -> String {
        let available = (c as? MPICommunicator)?.overlapAvailable ?? false
        return exchange.overlap.describe(ranks: c.size, nodes: c.nodes, available: available, sharedWeights: exchange.sharedWeights) ?? "1 rank"
    }

    /// One line about the numeric environment, for start-up logs and bench output.
    static var blasLine: String {
        var s = "OpenBLAS core \(BLASInfo.coreName), \(BLASInfo.threads) thread\(BLASInfo.threads == 1 ? "" : "s")"
        if let note = BLASSetup.note { s += " (\(note))" }
        if MatmulPrecision.current == .medium { s += "; matmul precision medium (bf16 inputs, \(MatmulPrecision.current.kernelName))" }
        return s
    }
}
