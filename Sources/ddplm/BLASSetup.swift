import DDPLM
import Foundation

/// OpenBLAS kernel choice. Debian's OpenBLAS 0.3.21 picks kernels from the CPU model number and on CPUs
/// newer than it knows falls back to SSE3 "Prescott" kernels, several times slower than its AVX-512 ones. When the
/// user has not set OPENBLAS_CORETYPE and OpenBLAS chose such an old core although the CPU has AVX-512
/// (or AVX2+FMA), ddplm re-executes itself with OPENBLAS_CORETYPE=SkylakeX (or Haswell) — OpenBLAS only
/// reads the variable when it loads — then checks a small sgemm against a naive reference before
/// trusting it, and falls back to OpenBLAS's own choice if it disagrees.
///
/// The same re-exec sets OPENBLAS_THREAD_TIMEOUT=4 (OpenBLAS's minimum: its idle workers sleep after 2^4
/// cycles instead of spinning on sched_yield for 2^28, ~0.1 s, after every call). Between its BLAS calls
/// ddplm runs its own parallel work (the recurrent layers' packed products, softmax rows, Adam) on other
/// threads, and with one thread per core a spinning OpenBLAS worker holds the core they need
/// (docs/benchmarks.md has the measured effect).
///
/// A value the user set is always respected; `--no-blas-autoselect` or DDPLM_BLAS_AUTOSELECT=0 keeps
/// OpenBLAS exactly as it loaded (no re-exec).
enum BLASSetup {
    nonisolated(unsafe) static var note: String?

    /// The OpenBLAS worker threads' spin before sleeping, as 2^n cycles (OPENBLAS_THREAD_TIMEOUT).
    static let threadTimeout = "4"

    /// OpenBLAS's idle-thread timeout in effect: what the environment says, else OpenBLAS's default.
    static var threadTimeoutNote: String {
        ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"].map { "2^\($0) cycles" } ?? "OpenBLAS's default (2^28 cycles)"
    }

    static let oldCores: Set<String> = [
        "prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "coppermine", "northwood",
        "banias", "generic", "unknown",
    ]

    static func configureOpenBLAS() {
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
            setenv("OPENBLAS_CORETYPE", chosen, 1)  // exec failed: these kernels stay loaded
            return
        }
        if let rejected = env["DDPLM_BLAS_REJECTED"] {
            note = "\(rejected) kernels failed the sgemm self-check; kept OpenBLAS's choice"
            return
        }
        let coreSet = env["OPENBLAS_CORETYPE"] != nil
        if coreSet { note = "OPENBLAS_CORETYPE set in the environment" }
        if env["DDPLM_BLAS_AUTOSELECT"] == "0" || CommandLine.arguments.prefix(while: { $0 != "--" }).contains("--no-blas-autoselect") { return }
        let core = coreSet ? nil : wantedCore()
        let timeout = env["OPENBLAS_THREAD_TIMEOUT"] == nil
        guard core != nil || timeout else { return }
        if let core {
            setenv("OPENBLAS_CORETYPE", core, 1)
            setenv("DDPLM_BLAS_AUTOSELECTED", BLASInfo.coreName, 1)
        }
        if timeout { setenv("OPENBLAS_THREAD_TIMEOUT", threadTimeout, 1) }
        reexec()
        // exec failed: this process keeps the OpenBLAS it loaded, so its environment must say so
        if core != nil { unsetenv("OPENBLAS_CORETYPE"); unsetenv("DDPLM_BLAS_AUTOSELECTED") }
        if timeout { unsetenv("OPENBLAS_THREAD_TIMEOUT") }
    }

    /// The kernels to ask for instead of OpenBLAS's choice, if it chose an old core on a newer CPU.
    private static func wantedCore() -> String? {
        let core = BLASInfo.coreName.lowercased()
        let flags = cpuFlags()
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].allSatisfy(flags.contains) {
            if oldCores.contains(core) || core == "sandybridge" || core == "haswell" { return "SkylakeX" }
        } else if flags.contains("avx2") && flags.contains("fma") {
            if oldCores.contains(core) || core == "sandybridge" { return "Haswell" }
        }
        return nil
    }

    private static func reexec() {
        // the binary's own path, not /proc/self/exe: exec'ing that link names the process "exe", and ps,
        // top and pgrep ddplm would not find it
        var path = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &path, Int(PATH_MAX))
        if n > 0 { execv(path, CommandLine.unsafeArgv) }
        execv("/proc/self/exe", CommandLine.unsafeArgv)  // (the binary was replaced or deleted meanwhile)
        // exec failed: carry on with whatever OpenBLAS loaded in this process (the caller resets the environment)
        note = "could not re-exec to configure OpenBLAS: \(String(cString: strerror(errno)))"
    }

    static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }
}
