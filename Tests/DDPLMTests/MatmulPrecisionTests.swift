import CKernels
import XCTest
@testable import DDPLM

/// `MatmulPrecision.medium`: every bf16 kernel this CPU can run (`BF16Kernel.available`: AMX and
/// AVX512-BF16 on an AMX Xeon, AVX512-BF16 on Zen 4) against `naiveGemm` on bf16-rounded inputs, the
/// same bits on any thread count and through `PackedMatrix`, and a training step that stays close to
/// float32 (and N ranks equal to one, as in float32). Skipped on a CPU without AVX512-BF16, where
/// `set(.medium)` must refuse instead (Tests/bf16 checks both kernels' code there with the intrinsics
/// emulated). The kernel choice and the saved-run rule are checked everywhere.
final class MatmulPrecisionTests: XCTestCase {
    override func tearDown() {
        try? MatmulPrecision.set(.highest)
    }

    /// The kernels to check on this CPU, or a skip with the reason.
    private func kernels() throws -> [BF16Kernel] {
        guard MatmulPrecision.mediumAvailable else {
            XCTAssertThrowsError(try MatmulPrecision.set(.medium), "a CPU without AVX512-BF16 must refuse medium")
            XCTAssertEqual(MatmulPrecision.current, .highest)
            throw XCTSkip("this CPU has no AVX512-BF16: the bf16 products cannot run here (Tests/bf16 checks their code with emulated intrinsics)")
        }
        return BF16Kernel.available
    }

    /// AMX where granted, else AVX512-BF16, else none; and `set` runs the kernel it reports.
    func testKernelChoice() throws {
        XCTAssertEqual(BF16Kernel.choose(avx512BF16: true, amx: true), .amx)
        XCTAssertEqual(BF16Kernel.choose(avx512BF16: true, amx: false), .avx512)
        XCTAssertNil(BF16Kernel.choose(avx512BF16: false, amx: false))
        XCTAssertNil(BF16Kernel.choose(avx512BF16: false, amx: true), "the AMX kernel packs with AVX512-BF16")
        XCTAssertEqual(MatmulPrecision.mediumAvailable, BF16Kernel.best != nil)
        if let best = BF16Kernel.best {
            try MatmulPrecision.set(.medium)
            XCTAssertEqual(MatmulPrecision.kernel, best)
            XCTAssertEqual(MatmulPrecision.current.kernelName, best.rawValue)
        }
        for k in BF16Kernel.allCases where !BF16Kernel.available.contains(k) {
            XCTAssertThrowsError(try MatmulPrecision.set(.medium, kernel: k)) { XCTAssertTrue("\($0)".contains("cannot run the \(k.rawValue) kernel")) }
        }
        try MatmulPrecision.set(.highest)
        XCTAssertNil(MatmulPrecision.kernel)
        XCTAssertEqual(MatmulPrecision.current.kernelName, "fp32")
    }

    /// x rounded to bf16 (nearest, ties to even) and back.
    private func rounded(_ x: FloatBuffer) -> FloatBuffer {
        let bits = [UInt16](unsafeUninitializedCapacity: x.count) { b, n in
            ddplm_f32_to_bf16(x.ptr, b.baseAddress!, x.count)
            n = x.count
        }
        let out = FloatBuffer(count: x.count)
        ddplm_bf16_to_f32(bits, out.ptr, x.count)
        return out
    }

    private func random(_ count: Int, _ rng: inout SplitMix64) -> FloatBuffer {
        let b = FloatBuffer(count: count)
        for i in 0..<count { b[i] = rng.nextFloat() - 0.5 }
        return b
    }

    /// Every transpose pair, alpha and beta, and shapes around the tiles' edges (16 rows, 32 columns,
    /// 32 k) against the Double triple loop on the rounded inputs; columns past N are left alone.
    func testBF16GemmMatchesNaiveOnRoundedInputs() throws {
        for kernel in try kernels() { try checkAgainstNaive(kernel) }
    }

    private func checkAgainstNaive(_ kernel: BF16Kernel) throws {
        try MatmulPrecision.set(.medium, kernel: kernel)
        var rng = SplitMix64(seed: 11)
        for (m, n, k) in [(1, 1, 1), (5, 3, 2), (16, 32, 32), (17, 33, 33), (37, 129, 71), (20, 70, 650), (64, 31, 100), (9, 33, 31), (10, 161, 97)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                for (alpha, beta): (Float, Float) in [(1, 0), (1, 1), (0.5, 0.3)] {
                    let lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 1
                    let a = random((ta ? k : m) * lda, &rng), b = random((tb ? n : k) * ldb, &rng)
                    let want = FloatBuffer(count: m * ldc), got = FloatBuffer(count: m * ldc)
                    for i in 0..<want.count { want[i] = Float(i % 7) - 3; got[i] = beta == 0 ? .nan : want[i] }
                    for r in 0..<m { got[r * ldc + n] = 42; want[r * ldc + n] = 42 }
                    gemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, a: a.ptr, lda: lda, b: b.ptr, ldb: ldb,
                         beta: beta, c: got.ptr, ldc: ldc)
                    let ra = rounded(a), rb = rounded(b)
                    withExtendedLifetime((ra, rb)) {
                        naiveGemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, a: ra.ptr, lda: lda,
                                  b: rb.ptr, ldb: ldb, beta: beta, c: want.ptr, ldc: ldc)
                    }
                    for i in 0..<want.count {
                        XCTAssertEqual(got[i], want[i], accuracy: 2e-5 * Float(k).squareRoot(),
                                       "\(kernel.rawValue) m=\(m) n=\(n) k=\(k) ta=\(ta) tb=\(tb) alpha=\(alpha) beta=\(beta) at \(i)")
                    }
                }
            }
        }
        // and the inputs really were rounded: the float32 product differs by far more than the tolerance
        let m = 40, n = 50, k = 300
        let a = random(m * k, &rng), b = random(k * n, &rng)
        let bf = FloatBuffer(count: m * n), fp = FloatBuffer(count: m * n)
        gemm(transA: false, transB: false, m: m, n: n, k: k, a: a.ptr, lda: k, b: b.ptr, ldb: n, beta: 0, c: bf.ptr, ldc: n)
        naiveGemm(transA: false, transB: false, m: m, n: n, k: k, a: a.ptr, lda: k, b: b.ptr, ldb: n, beta: 0, c: fp.ptr, ldc: n)
        let worst = (0..<(m * n)).map { abs(bf[$0] - fp[$0]) }.max()!
        XCTAssertGreaterThan(worst, 1e-3, "\(kernel.rawValue) gave float32's product: the inputs were not rounded to bf16")
    }

    /// 1, 2 and 3 threads, and the packed right-hand side, give the same bits as one thread's `gemm`.
    func testThreadsAndPackedGiveTheSameBits() throws {
        for kernel in try kernels() { try checkThreadsAndPacked(kernel) }
    }

    private func checkThreadsAndPacked(_ kernel: BF16Kernel) throws {
        try MatmulPrecision.set(.medium, kernel: kernel)
        let saved = BLASInfo.threads
        defer { BLASInfo.setThreads(saved) }
        var rng = SplitMix64(seed: 12)
        let m = 21, n = 161, k = 97
        let a = random(m * k, &rng), b = random(n * k, &rng)
        var outputs: [[Float]] = []
        for threads in [1, 2, 3] {
            BLASInfo.setThreads(threads)
            for transposed in [true, false] {
                let ldb = transposed ? k : n
                let c = FloatBuffer(count: m * n)
                gemm(transA: false, transB: transposed, m: m, n: n, k: k, a: a.ptr, lda: k, b: b.ptr, ldb: ldb, beta: 0, c: c.ptr, ldc: n)
                let packed = PackedMatrix(k: k, n: n, threads: ComputeThreads(threads))
                packed.pack(b.ptr, ldb: ldb, transposed: transposed)
                let p = FloatBuffer(count: m * n)
                packed.multiply(m: m, a: a.ptr, lda: k, beta: 0, c: p.ptr, ldc: n)
                XCTAssertEqual(p.array, c.array, "\(kernel.rawValue): packed and gemm differ (threads \(threads), transposed \(transposed))")
                if transposed { outputs.append(c.array) }
            }
        }
        XCTAssertEqual(BLASInfo.threads, 3, "OpenBLAS did not take the thread count: the split was not exercised")
        XCTAssertEqual(outputs[0], outputs[1])
        XCTAssertEqual(outputs[0], outputs[2])
    }

    /// Three training steps of a 2-layer LSTM in medium stay within bf16's reach of float32 (losses to
    /// 0.1%, weights 1e-3 apart on average after three Adam steps of 1e-2), yet differ from it.
    func testMediumTrainingStaysCloseToHighest() throws {
        for kernel in try kernels() { try checkTrainingCloseToHighest(kernel) }
    }

    private func checkTrainingCloseToHighest(_ kernel: BF16Kernel) throws {
        let cfg = ModelConfig(vocabSize: 60, embedding: 48, hidden: 40, layers: 2, cell: .lstm, dropout: 0)
        let batch = 8, t = 6, steps = 3
        var rng = SplitMix64(seed: 13)
        let xs = (0..<(steps * t * batch)).map { _ in Int32(rng.next() % 60) }
        let ys = (0..<(steps * t * batch)).map { _ in Int32(rng.next() % 60) }
        func train(_ p: MatmulPrecision) throws -> (losses: [Double], weights: [Float]) {
            try MatmulPrecision.set(p, kernel: p == .medium ? kernel : nil)
            let comm = SingleProcessCommunicator()
            let store = LanguageModel.store(cfg, ranks: 1, rank: 0, vocabParallel: false)
            let model = LanguageModel(config: cfg, store: store, batch: batch, maxT: t, chunkRows: 20, comm: comm)
            model.initialize(seed: 3)
            let stepper = TrainingStep(store: store, threads: .one, comm: comm, clip: 5)
            let carry = model.makeState()
            var losses: [Double] = []
            for s in 0..<steps {
                let x = Array(xs[(s * t * batch)..<((s + 1) * t * batch)]), y = Array(ys[(s * t * batch)..<((s + 1) * t * batch)])
                let r = try stepper.run(lr: 0.01, adamStep: s + 1) {
                    try model.trainStep(x: x, y: y, t: t, state: carry, dropout: DropoutKey(seed: 5, step: UInt64(s), firstColumn: 0))
                }
                losses.append(r.loss)
            }
            return (losses, Array(store.params.array[0..<store.count]))
        }
        let fp = try train(.highest), bf = try train(.medium)
        for s in 0..<steps { XCTAssertEqual(bf.losses[s], fp.losses[s], accuracy: 1e-3 * fp.losses[s], "\(kernel.rawValue) step \(s)") }
        let diffs = zip(bf.weights, fp.weights).map { abs($0 - $1) }
        // Adam moves every weight by ~lr per step whatever its gradient's size, so a tiny gradient whose
        // sign bf16 flips moves the other way: a few weights differ by up to 2·steps·lr, the mean little
        // (measured: 1.5e-4 on average, 452 of 32,860 by more than 1e-3)
        XCTAssertLessThan(diffs.reduce(0, +) / Float(diffs.count), 1e-3)
        XCTAssertLessThan(diffs.filter { $0 > 1e-3 }.count, diffs.count / 20)
        XCTAssertNotEqual(bf.losses, fp.losses, "\(kernel.rawValue) trained exactly as float32: the bf16 path did not run")
    }

    /// N in-process ranks still train what one process trains (the float32 test's tolerances): every rank
    /// scales a token's gradient by the same 1/(global tokens), so the bf16 rounding of each product's
    /// inputs is the same as in one process, also for 3 ranks.
    func testNRanksEqualOneInMedium() throws {
        for kernel in try kernels() {
            try MatmulPrecision.set(.medium, kernel: kernel)
            let t = DistributedTests(name: "medium", testClosure: { _ in })
            try t.nRankTrainingStepEqualsOneRank(ModelConfig(vocabSize: 13, embedding: 5, hidden: 6, layers: 2, cell: .lstm, dropout: 0.3))
        }
    }

    /// The one rule for a saved run's precision (resume and the commands that read a run), on machines
    /// with and without medium: asked wins; else the run's own; a medium run without AVX512-BF16 is read
    /// in highest with a note and resumed only when highest is asked for; a changed precision on resume
    /// says so, and so does a medium run resumed on the other bf16 kernel.
    func testSavedRunPrecisionRule() throws {
        func rule(_ asked: MatmulPrecision?, _ saved: MatmulPrecision?, savedKernel: String? = nil, resuming: Bool,
                  kernel: BF16Kernel?) throws -> (MatmulPrecision, String?) {
            let r = try MatmulPrecision.forSavedRun(requested: asked, saved: saved, savedKernel: savedKernel, resuming: resuming,
                                                    run: "R", kernel: kernel)
            return (r.precision, r.note)
        }
        for resuming in [false, true] {
            for k in [BF16Kernel.amx, .avx512] {
                XCTAssertEqual(try rule(nil, nil, resuming: resuming, kernel: nil).0, .highest)
                XCTAssertEqual(try rule(nil, .medium, resuming: resuming, kernel: k).0, .medium)
                XCTAssertNil(try rule(nil, .medium, savedKernel: k.rawValue, resuming: resuming, kernel: k).1)
                XCTAssertEqual(try rule(.highest, .highest, resuming: resuming, kernel: k).0, .highest)
            }
        }
        let read = try rule(nil, .medium, resuming: false, kernel: nil)
        XCTAssertEqual(read.0, .highest)
        XCTAssertTrue(read.1?.contains("no AVX512-BF16, so its products run in highest") ?? false)
        XCTAssertThrowsError(try rule(nil, .medium, resuming: true, kernel: nil)) { XCTAssertTrue("\($0)".contains("resume with --matmul-precision highest")) }
        let told = try rule(.highest, .medium, resuming: true, kernel: nil)
        XCTAssertEqual(told.0, .highest)
        XCTAssertTrue(told.1?.contains("trained with --matmul-precision medium in highest") ?? false)
        XCTAssertNil(try rule(.highest, .medium, resuming: false, kernel: nil).1, "reading in the precision asked for needs no note")
        // trained on AMX, resumed on Zen 4 (and back): medium, with a note; reading it needs none
        for asked in [nil, MatmulPrecision.medium] {
            let moved = try rule(asked, .medium, savedKernel: "bf16-amx", resuming: true, kernel: .avx512)
            XCTAssertEqual(moved.0, .medium)
            XCTAssertTrue(moved.1?.contains("ran on bf16-amx and continue on bf16-avx512") ?? false, "\(String(describing: moved.1))")
            XCTAssertTrue(try rule(asked, .medium, savedKernel: "bf16-avx512", resuming: true, kernel: .amx).1?.contains("continue on bf16-amx") ?? false)
            XCTAssertNil(try rule(asked, .medium, savedKernel: "bf16-amx", resuming: false, kernel: .avx512).1)
        }
    }
}
