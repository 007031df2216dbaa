import ArgumentParser
import DDPLM
import Foundation

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show the numeric environment: OpenBLAS core and threads, CPU features, MPI launch."
    )

    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        Runtime.guarded { _ in
            _ = try Runtime.configureThreads(runtime.threads)
            let flags = BLASSetup.cpuFlags()
            let simd = ["avx512f", "avx2", "fma", "avx", "sse3"].filter(flags.contains)
            print("openblas_core: \(BLASInfo.coreName)")
            print("openblas_config: \(BLASInfo.config)")
            print("openblas_threads: \(BLASInfo.threads)")
            print("blas_note: \(BLASSetup.note ?? "OpenBLAS's own choice")")
            print("cpu_features: \(simd.joined(separator: " "))")
            print("cores_available: \(ProcessInfo.processInfo.activeProcessorCount)")
            print("launched_by_mpirun: \(Runtime.launchedByMPI)")
        }
    }
}
