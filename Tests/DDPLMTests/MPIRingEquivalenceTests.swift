import XCTest
@testable import DDPLM
import Foundation

/// In-process ranks (`InProcessCommunicator`, what every other distributed test runs on) train the same
/// bits as real MPI ranks (`mpirun` of the release binary, cmpi.c's ring): a change to the ring's order,
/// the segments, the pieces of a ring step or the padding that only one of the two follows fails here. At
/// E = H = 160 each rank's block is several of cmpi.c's 2^16-float pieces and a partial one. Needs the release binary
/// (`swift build -c release`, as Tests/run.sh builds it first; DDPLM_BIN names another) and `mpirun`;
/// without them it is skipped with the reason, and under CI (CI=true) that is a failure.
final class MPIRingEquivalenceTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func tool(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    func testInProcessRanksTrainTheBitsOfMPIRanks() throws {
        let env = ProcessInfo.processInfo.environment
        let bin = env["DDPLM_BIN"] ?? Self.repo + "/.build/release/ddplm"
        guard FileManager.default.isExecutableFile(atPath: bin), let mpirun = tool("mpirun") else {
            let why = "needs the release binary at \(bin) (swift build -c release) and mpirun"
            if env["CI"] == "true" { return XCTFail(why) }
            throw XCTSkip(why)
        }
        // the mpirun ranks run OpenBLAS on one thread (OPENBLAS_NUM_THREADS=1), and so must these: at
        // these sizes sgemm's bits depend on its thread count
        let saved = BLASInfo.threads
        BLASInfo.setThreads(1)
        defer { BLASInfo.setThreads(saved) }
        let dir = NSTemporaryDirectory() + "ddplm-ring-\(getpid())-\(UUID().uuidString.prefix(8))"
        try AtomicFile.makeDirectory(dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = SplitMix64(seed: 21)
        for (name, n) in [("train", 4000), ("valid", 900), ("test", 900)] {
            try AtomicFile.write((0..<n).map { k in "w\(k % 7 == 6 ? Int(rng.next() % 23) : (k * 5 + k / 11) % 23)" }.joined(separator: " "),
                                 to: "\(dir)/\(name).txt")
        }
        for ranks in [2, 3] {
            let mpi = "\(dir)/mpirun-\(ranks)", local = "\(dir)/in-process-\(ranks)"
            let p = Process()
            p.executableURL = URL(fileURLWithPath: mpirun)
            p.arguments = ["-np", "\(ranks)", "--oversubscribe", "--bind-to", "none", "-x", "OPENBLAS_NUM_THREADS=1", "-x", "DDPLM_BLAS_AUTOSELECT=0",
                           bin, "train", "--train", "\(dir)/train.txt", "--valid", "\(dir)/valid.txt", "--test", "\(dir)/test.txt",
                           "--cell", "lstm", "--layers", "2", "--dropout", "0.2", "--emb", "160", "--hidden", "160", "--batch", "6", "--bptt", "9",
                           "--lr", "0.01", "--log-every", "1", "--eval-every", "10", "--save-every", "0", "--threads", "1",
                           "--max-steps", "25", "--out", mpi]
            p.environment = env.merging(["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "DDPLM_BLAS_AUTOSELECT": "0"]) { $1 }
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, "mpirun -np \(ranks) ddplm train")
            guard p.terminationStatus == 0 else { continue }

            // the same run, from the config the binary wrote, on in-process ranks
            let config = try RunConfig.load(mpi + "/config.json")
            let corpora = try LanguageModelCorpora.load(config.data, vocab: try Vocabulary.load(mpi + "/vocab.txt"))
            _ = try InProcessCommunicator.run(ranks: ranks) { comm in
                try LanguageModelTraining.run(config: config, corpora: corpora, options: DistributedTests.options(local), comm: comm)
            }
            for type in ["train", "valid", "test"] {
                let a = try DistributedTests.losses(mpi, type), b = try DistributedTests.losses(local, type)
                XCTAssertFalse(a.isEmpty, type)
                XCTAssertEqual(a, b, "\(ranks) ranks: \(type) losses, mpirun against in-process")
            }
            for file in ["model.safetensors", "latest.safetensors"] {
                let fa = try SafeTensors.read(path: "\(mpi)/\(file)"), fb = try SafeTensors.read(path: "\(local)/\(file)")
                XCTAssertEqual(fa.entries.map(\.name), fb.entries.map(\.name))
                for e in fa.entries {
                    let x = try DistributedTests.floats(fa, e), y = try DistributedTests.floats(fb, e)
                    XCTAssertEqual(x.map(\.bitPattern), y.map(\.bitPattern), "\(ranks) ranks: \(file) \(e.name) is not bit-identical")
                }
            }
        }
    }
}
