// swift-tools-version:6.0
// Linux only: OpenBLAS, and the MPI that the build finds (see MPIFlags below).
import Foundation
import PackageDescription

/// The MPI to build against, found the conventional way, first match wins:
/// 1. `MPI_HOME=/prefix`: `/prefix/include`, `/prefix/lib` (or `lib64`) and `-lmpi`;
/// 2. the `mpicc` wrapper (`MPICC=...` names another one, e.g. `MPICC=mpicc.mpich`):
///    `mpicc -showme:compile` / `-showme:link` (OpenMPI), else `mpicc -show` (MPICH, Intel MPI, MVAPICH);
/// 3. pkg-config: `ompi-c`, `mpich`, `mpi`.
/// So a cluster's `module load openmpi` (or MPICH, Intel MPI, Cray's wrappers) is what ddplm links.
enum MPIFlags {
    static let env = ProcessInfo.processInfo.environment

    static func run(_ command: [String]) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = command
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The words of a compiler or linker line that matter here: include and macro flags for C; library
    /// paths, libraries and linker options (`-Wl,a,b` becomes `-Xlinker a -Xlinker b` for swiftc).
    static func split(_ line: String) -> (c: [String], link: [String]) {
        var c: [String] = [], link: [String] = []
        for w in line.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init) {
            if w.hasPrefix("-I") || w.hasPrefix("-D") { c.append(w) }
            else if w.hasPrefix("-L") { link.append(w); link += ["-Xlinker", "-rpath", "-Xlinker", String(w.dropFirst(2))] }
            else if w.hasPrefix("-l") { link.append(w) }
            else if w.hasPrefix("-Wl,") { for a in w.dropFirst(4).split(separator: ",") { link += ["-Xlinker", String(a)] } }
        }
        return (c, link)
    }

    static let found: (c: [String], link: [String]) = {
        if let home = env["MPI_HOME"], !home.isEmpty {
            let lib = FileManager.default.fileExists(atPath: home + "/lib64/libmpi.so") ? "/lib64" : "/lib"
            return split("-I\(home)/include -L\(home)\(lib) -lmpi")
        }
        let cc = env["MPICC"] ?? "mpicc"
        if let compile = run([cc, "-showme:compile"]), let link = run([cc, "-showme:link"]) {
            let a = split(compile), b = split(link)
            return (a.c, b.link)
        }
        if let show = run([cc, "-show"]) { return split(show) }
        for name in ["ompi-c", "mpich", "mpi"] {
            if let flags = run(["pkg-config", "--cflags", "--libs", name]) { return split(flags) }
        }
        return ([], ["-lmpi"])  // no wrapper and no pkg-config: mpi.h and libmpi on the default paths
    }()
}

// Release builds of the numeric library skip bounds/overflow checks in the hot loops; debug builds
// (what `swift test` uses) keep every check on.
let fast: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release)),
]

let package = Package(
    name: "ddplm",
    products: [
        .executable(name: "ddplm", targets: ["ddplm"]),
        .library(name: "DDPLM", targets: ["DDPLM"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // TensorBoard event files (Sources/DDPLM/IO/TensorBoard); the generated code is committed,
        // see proto/README.md, so no build step runs protoc.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // OpenBLAS: cblas_sgemm plus openblas_get_corename / openblas_set_num_threads.
        .target(
            name: "CBLAS",
            linkerSettings: [.linkedLibrary("openblas")]
        ),
        // ddplm's C kernels, vectorised with run-time dispatch and optimised in debug builds too: the
        // elementwise hot spots (fused softmax-CE row, exp/sigmoid/tanh, Adam, sums of squares), the packed
        // per-step GEMM of the recurrent layers, the bf16 GEMMs of --matmul-precision medium, and the
        // fork-join thread pool with the loops that run on it.
        .target(
            name: "CKernels",
            cSettings: [.unsafeFlags(["-O2", "-fno-math-errno"])]
        ),
        // MPI behind a tiny C shim: Swift never sees mpi.h or its macros. Standard MPI only, so
        // OpenMPI, MPICH and their derivatives all build it (MPIFlags finds which).
        .target(
            name: "CMPI",
            dependencies: ["CKernels"],  // the bf16 wire format's conversions
            cSettings: [.unsafeFlags(["-O2"] + MPIFlags.found.c)],
            linkerSettings: [.unsafeFlags(MPIFlags.found.link)]
        ),
        // Everything testable without MPI: data, model, optimiser, IO, trainer.
        .target(
            name: "DDPLM",
            dependencies: [
                "CBLAS", "CKernels",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: fast
        ),
        // The thin CLI; the only Swift file that knows MPI is MPICommunicator.swift.
        .executableTarget(
            name: "ddplm",
            dependencies: [
                "DDPLM", "CMPI", "CBLAS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: fast
        ),
        .testTarget(
            name: "DDPLMTests",
            dependencies: ["DDPLM", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            // the PyTorch golden fixtures, found through #filePath (launch/make-golden-fixtures.py)
            exclude: ["Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v5]
)
