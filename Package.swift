// swift-tools-version:6.0
// Linux only: OpenMPI and OpenBLAS from the distribution (Debian/Ubuntu paths below).
import PackageDescription

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
        // The elementwise hot spots (fused softmax-CE row, exp/sigmoid/tanh), vectorised with run-time
        // dispatch; always optimised, also in debug builds.
        .target(
            name: "CKernels",
            cSettings: [.unsafeFlags(["-O2", "-fno-math-errno"])]
        ),
        // OpenMPI behind a tiny C shim: Swift never sees mpi.h or its macros.
        .target(
            name: "CMPI",
            dependencies: ["CKernels"],  // the bf16 wire format's conversions
            cSettings: [
                .unsafeFlags([
                    "-O2",
                    "-I/usr/lib/x86_64-linux-gnu/openmpi/include",
                    "-I/usr/lib/aarch64-linux-gnu/openmpi/include",
                    "-I/usr/include/x86_64-linux-gnu/mpi",
                ]),
            ],
            linkerSettings: [
                .linkedLibrary("mpi"),
                .unsafeFlags(["-L/usr/lib/x86_64-linux-gnu/openmpi/lib"]),
            ]
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
