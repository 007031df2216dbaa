import ArgumentParser
import DDPLM
import Foundation

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a run directory, or (with no argument) the environment: BLAS, CPU, launch, threads.",
        discussion: """
        `ddplm info RUN`: the model, where training stands (step, epoch, lr), the best validation and where \
        it came from, the ranks and threads it was trained with, and whether every file verifies (each \
        safetensors file carries a checksum). `ddplm info` alone: OpenBLAS's kernels and threads, the CPU's \
        vector extensions, how this process was launched (single process, mpirun, srun) and the threads \
        per rank it would use, and why. Under mpirun or srun each rank prints its own view.
        """
    )

    @Argument(help: "A run directory (omit for the environment report).") var directory: String?
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        Runtime.guarded { _ in
            if let directory {
                for line in try RunInfo.describe(directory) { print(line) }
                return
            }
            if let why = Runtime.launch.refusal { throw DDPLMError(why) }
            _ = try Runtime.configureThreads(runtime.threads)
            try Runtime.configurePrecision(runtime.matmulPrecision)
            let flags = BLASSetup.cpuFlags()
            let simd = ["avx512f", "avx2", "fma", "avx", "sse3"].filter(flags.contains)
            print("version: ddplm \(Version.string)")
            print("mpi_library: \(MPICommunicator.libraryVersion)")
            print("openblas_core: \(BLASInfo.coreName)")
            print("openblas_config: \(BLASInfo.config)")
            print("openblas_threads: \(BLASInfo.threads)")
            print("blas_note: \(BLASSetup.note ?? "OpenBLAS's own choice")")
            print("openblas_thread_timeout: \(BLASSetup.threadTimeoutNote)")
            print("cpu_features: \(simd.joined(separator: " "))")
            let kernels = BF16Kernel.available.map(\.rawValue).joined(separator: ", ")
            print("matmul_precision: \(MatmulPrecision.current.rawValue) (medium: \(BF16Kernel.best.map { "available, \($0.rawValue) (kernels here: \(kernels))" } ?? "not on this machine: no AVX512-BF16"))")
            print("cores_available: \(ProcessInfo.processInfo.activeProcessorCount)")
            let l = Runtime.launch
            print("launch: \(l.kind.rawValue)\(l.usesMPI ? ", rank \(l.rank) of \(l.size), \(l.localRanks) rank\(l.localRanks == 1 ? "" : "s") on this host" : "")")
            print("threads_per_rank: \(BLASInfo.threads) (\(Runtime.threadsReason))")
        }
    }
}
