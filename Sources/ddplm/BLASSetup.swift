import DDPLM
import Foundation

/// OpenBLAS kernel choice. Debian's OpenBLAS 0.3.21 picks kernels from the CPU model number and on CPUs
/// newer than it knows falls back to SSE3 "Prescott" kernels, ~4× slower than its AVX-512 ones. When the
/// user has not set OPENBLAS_CORETYPE and OpenBLAS chose such an old core although the CPU has AVX-512
/// (or AVX2+FMA), ddplm re-executes itself with OPENBLAS_CORETYPE=SkylakeX (or Haswell) — OpenBLAS only
/// reads the variable when it loads — then checks a small sgemm against a naive reference before
/// trusting it, and falls back to OpenBLAS's own choice if it disagrees. A value the user set is always
/// respected; `--no-blas-autoselect` or DDPLM_BLAS_AUTOSELECT=0 turns this off.
enum BLASSetup {
    nonisolated(unsafe) static var note: String?

    static let oldCores: Set<String> = [
        "prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "coppermine", "northwood",
        "banias", "generic", "unknown",
    ]

    static func selectCoreIfNeeded() {
        let env = ProcessInfo.processInfo.environment
        if let detected = env["DDPLM_BLAS_AUTOSELECTED"] {
            if BLASInfo.sgemmAgreesWithReference() {
                note = "auto-selected; OpenBLAS detected \(detected)"
                return
            }
            let chosen = env["OPENBLAS_CORETYPE"] ?? "?"
            unsetenv("OPENBLAS_CORETYPE")
            unsetenv("DDPLM_BLAS_AUTOSELECTED")
            setenv("DDPLM_BLAS_AUTOSELECT", "0", 1)
            setenv("DDPLM_BLAS_REJECTED", chosen, 1)
            reexec()
            return
        }
        if let rejected = env["DDPLM_BLAS_REJECTED"] {
            note = "\(rejected) kernels failed the sgemm self-check; kept OpenBLAS's choice"
            return
        }
        if env["OPENBLAS_CORETYPE"] != nil { note = "OPENBLAS_CORETYPE set in the environment"; return }
        if env["DDPLM_BLAS_AUTOSELECT"] == "0" || CommandLine.arguments.contains("--no-blas-autoselect") { return }
        let core = BLASInfo.coreName.lowercased()
        let flags = cpuFlags()
        var want: String?
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].allSatisfy(flags.contains) {
            if oldCores.contains(core) || core == "sandybridge" || core == "haswell" { want = "SkylakeX" }
        } else if flags.contains("avx2") && flags.contains("fma") {
            if oldCores.contains(core) || core == "sandybridge" { want = "Haswell" }
        }
        guard let w = want else { return }
        setenv("OPENBLAS_CORETYPE", w, 1)
        setenv("DDPLM_BLAS_AUTOSELECTED", BLASInfo.coreName, 1)
        reexec()
    }

    private static func reexec() {
        // the binary's own path, not /proc/self/exe: exec'ing that link names the process "exe", and ps,
        // top and pgrep ddplm would not find it
        var path = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &path, Int(PATH_MAX))
        if n > 0 { execv(path, CommandLine.unsafeArgv) }
        execv("/proc/self/exe", CommandLine.unsafeArgv)  // (the binary was replaced or deleted meanwhile)
        // exec failed: carry on with whatever OpenBLAS loaded in this process
        unsetenv("OPENBLAS_CORETYPE")
        unsetenv("DDPLM_BLAS_AUTOSELECTED")
        note = "could not re-exec to switch kernels: \(String(cString: strerror(errno)))"
    }

    static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }
}
