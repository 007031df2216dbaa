import DDPLM
import Foundation

/// How `train` and `classify train` begin: the run directory (--out, --resume DIR|auto, or
/// runs/<date-time>), whether this is a resume (rank 0 decides, so all ranks agree), and the threads
/// (a resumed run keeps its recorded count unless --threads or $OPENBLAS_NUM_THREADS say otherwise), and
/// the matrix products' precision (a resumed run keeps its own unless --matmul-precision says otherwise).
struct RunStart {
    let dir: RunDirectory
    let resuming: Bool
    let threads: ComputeThreads

    init(_ options: RunDirectoryOptions, runtime: RuntimeOptions, comm: Communicator) throws {
        let out = options.out, resume = options.resume
        dir = RunDirectory(resume.flatMap { $0 == "auto" ? nil : $0 } ?? out ?? RunStart.defaultOut(comm: comm))
        resuming = try comm.broadcast([resume == nil ? 0 : resume == "auto" ? (dir.canResume ? 1 : 0) : 1])[0] == 1
        if resume == "auto" && !resuming && dir.hasRun {
            throw DDPLMError("'\(dir.path)' holds a model.safetensors but no latest.safetensors to continue from (the run stopped before its first checkpoint); remove it or choose another --out")
        }
        if resuming && !FileManager.default.fileExists(atPath: dir.config) {
            throw DDPLMError("nothing to resume in '\(dir.path)': no config.json")
        }
        var requested = runtime.threads
        let saved = resuming ? Checkpoint.savedState(dir.latest) : nil
        if requested == nil, ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] == nil {
            requested = saved?.threads  // resume as the run was
        }
        threads = try Runtime.configureThreads(requested)
        // a resume keeps the run's precision unless told otherwise (and says so when told)
        let savedPrecision = try saved.map { try Checkpoint.precision(of: $0, name: dir.latest) }
        let (precision, why) = try MatmulPrecision.forSavedRun(requested: runtime.matmulPrecision, saved: savedPrecision,
                                                               savedKernel: saved?.matmulKernel, resuming: resuming, run: dir.path)
        if let why { RunStart.note(comm)(why) }
        try MatmulPrecision.set(precision)
    }

    func options(checkEvery: Int, debugNanAtStep: Int?, exchange: ExchangeOptions) -> TrainingLoop.Options {
        var o = TrainingLoop.Options(dir: dir)
        o.resume = resuming
        o.threads = threads
        o.overlap = exchange.overlap
        o.sharedWeights = exchange.sharedWeights
        o.checkEvery = checkEvery
        o.injectNaNAtStep = debugNanAtStep.map { $0 - 1 }
        o.secondsSinceProcessStart = RunTimeBudget.secondsSinceProcessStart
        return o
    }

    /// runs/<date-time>, agreed on by all ranks (rank 0's clock).
    static func defaultOut(comm: Communicator) -> String {
        var stamp = [Double(Int(Date().timeIntervalSince1970))]
        if let s = try? comm.broadcast(stamp) { stamp = s }
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.timeZone = TimeZone(identifier: "UTC")
        return "runs/" + f.string(from: Date(timeIntervalSince1970: stamp[0]))
    }

    /// A line on stderr from rank 0.
    static func note(_ comm: Communicator) -> (String) -> Void {
        { if comm.isRoot { FileHandle.standardError.write(Data(($0 + "\n").utf8)) } }
    }
}
