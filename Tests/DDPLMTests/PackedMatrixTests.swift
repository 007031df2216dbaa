import XCTest
import CKernels
@testable import DDPLM

/// The packed per-step GEMM (every kernel this CPU has) against `naiveGemm`, and the recurrent layers
/// giving the same results with it as with `gemm`.
final class PackedMatrixTests: XCTestCase {
    /// Shapes around every edge: row blocks (tile heights 4, 6, 8), panel widths (32), K passes (128).
    func testEveryKernelMatchesNaiveGemm() {
        var rng = SplitMix64(seed: 3)
        var ran: Set<Int32> = []
        for (m, n, k) in [(1, 1, 1), (3, 31, 5), (7, 32, 127), (9, 33, 128), (20, 100, 129), (17, 65, 300), (32, 400, 100), (13, 64, 1), (5, 49, 40)] {
            for transposed in [false, true] {
                let ldb = (transposed ? k : n) + 3, lda = k + 2, ldc = n + 1
                let a = FloatBuffer(count: m * lda), b = FloatBuffer(count: (transposed ? n : k) * ldb)
                for i in 0..<a.count { a[i] = rng.nextFloat() - 0.5 }
                for i in 0..<b.count { b[i] = rng.nextFloat() - 0.5 }
                let packed = PackedMatrix(k: k, n: n, threads: .one)
                packed.pack(b.ptr, ldb: ldb, transposed: transposed)
                for kernel: Int32 in [0, 1, 2] {
                    for beta: Float in [0, 1, 0.5] {
                        let want = FloatBuffer(count: m * ldc), got = FloatBuffer(count: m * ldc)
                        for i in 0..<want.count { want[i] = Float(i % 5) - 2; got[i] = beta == 0 ? .nan : want[i] }
                        for r in 0..<m { got[r * ldc + n] = 42 }  // past the last column: must stay
                        for r in 0..<m { want[r * ldc + n] = 42 }
                        guard packed.multiply(kernel: kernel, m: m, a: a.ptr, lda: lda, beta: beta, c: got.ptr, ldc: ldc) else { continue }
                        ran.insert(kernel)
                        naiveGemm(transA: false, transB: transposed, m: m, n: n, k: k, a: a.ptr, lda: lda, b: b.ptr, ldb: ldb,
                                  beta: beta, c: want.ptr, ldc: ldc)
                        for i in 0..<want.count {
                            XCTAssertEqual(got[i], want[i], accuracy: 2e-5 * Float(max(1, k)).squareRoot(),
                                           "kernel \(kernel) m=\(m) n=\(n) k=\(k) transposed=\(transposed) beta=\(beta) at \(i)")
                        }
                    }
                }
            }
        }
        XCTAssertTrue(ran.contains(0))
        print("packed GEMM kernels tested: \(ran.sorted()) (0 plain, 1 AVX2, 2 AVX-512)")
    }

    /// Every packing this CPU has writes the plain packing's bytes, around every edge: K rows in blocks of
    /// 8 and their tail, a narrower last panel, padded leading dimensions.
    func testEveryPackingWritesThePlainBytes() {
        var rng = SplitMix64(seed: 5)
        var ran = 0
        for (k, n) in [(1, 1), (7, 31), (8, 32), (9, 33), (17, 64), (650, 2600 / 8), (24, 97)] {
            for trans: Int32 in [0, 1] {
                let ldb = (trans == 1 ? k : n) + 3
                let b = FloatBuffer(count: (trans == 1 ? n : k) * ldb)
                for i in 0..<b.count { b[i] = rng.nextFloat() - 0.5 }
                let size = ddplm_packed_size(k, n)
                let want = FloatBuffer(count: size), got = FloatBuffer(count: size)
                for i in 0..<size { want[i] = .nan; got[i] = .nan }
                XCTAssertEqual(ddplm_pack_b_isa(0, trans, k, n, b.ptr, ldb, want.ptr), 1)
                for isa: Int32 in [1] where ddplm_pack_b_isa(isa, trans, k, n, b.ptr, ldb, got.ptr) == 1 {
                    ran += 1
                    XCTAssertEqual(memcmp(want.ptr, got.ptr, size * 4), 0, "packing \(isa) k=\(k) n=\(n) trans=\(trans)")
                }
            }
        }
        print("packings tested against the plain one: \(ran) cases")
    }

    /// Split over threads (whole panels each), packing and products give the same bits as on one, and the
    /// split is the owner's `ComputeThreads`, not OpenBLAS's process-wide count.
    func testThreadsGiveTheSameBits() {
        let saved = BLASInfo.threads
        defer { BLASInfo.setThreads(saved) }
        BLASInfo.setThreads(1)
        var rng = SplitMix64(seed: 5)
        let m = 7, n = 161, k = 70
        let a = FloatBuffer(count: m * k), b = FloatBuffer(count: n * k)
        for i in 0..<a.count { a[i] = rng.nextFloat() - 0.5 }
        for i in 0..<b.count { b[i] = rng.nextFloat() - 0.5 }
        var outputs: [[Float]] = []
        for threads in [1, 2, 3] {
            let packed = PackedMatrix(k: k, n: n, threads: ComputeThreads(threads))
            XCTAssertEqual(packed.threads, threads)
            packed.pack(b.ptr, ldb: k, transposed: true)
            let c = FloatBuffer(count: m * n)
            packed.multiply(m: m, a: a.ptr, lda: k, beta: 0, c: c.ptr, ldc: n)
            outputs.append(c.array)
        }
        XCTAssertEqual(outputs[0], outputs[1])
        XCTAssertEqual(outputs[0], outputs[2])
        let want = FloatBuffer(count: m * n)
        naiveGemm(transA: false, transB: true, m: m, n: n, k: k, a: a.ptr, lda: k, b: b.ptr, ldb: k, beta: 0, c: want.ptr, ldc: n)
        for i in 0..<want.count { XCTAssertEqual(outputs[2][i], want[i], accuracy: 1e-4) }
    }

    /// The thread count has one home: a model built with `ComputeThreads(n)` runs its decoder and its
    /// packed per-step products on n, whatever OpenBLAS's own count is.
    func testModelThreadsReachEveryLoop() {
        let saved = BLASInfo.threads
        defer { BLASInfo.setThreads(saved) }
        BLASInfo.setThreads(1)
        let model = LanguageModel(config: ModelConfig(vocabSize: 20, embedding: 8, hidden: 8, layers: 2), batch: 2, maxT: 4, threads: ComputeThreads(3))
        XCTAssertEqual(model.decoder.threads.count, 3)
        for layer in model.layers { XCTAssertEqual(layer.recurrent.threads, 3) }
    }

    /// A layer's forward and backward with packed per-step products equal those with `gemm` calls (to
    /// float rounding), for every cell.
    func testRecurrentLayerSameWithPackedAndBLAS() {
        let saved = RecurrentGEMM.current
        defer { RecurrentGEMM.current = saved }
        for cell in CellType.allCases {
            let input = 11, hidden = 37, b = 5, t = 6, g = cell.gates * hidden
            var rng = SplitMix64(seed: 9)
            func random(_ n: Int) -> FloatBuffer { let f = FloatBuffer(count: n); for i in 0..<n { f[i] = (rng.nextFloat() - 0.5) * 0.6 }; return f }
            let x = random(t * b * input), h0 = random(b * hidden), c0 = random(b * hidden)
            let wih = random(g * input), whh = random(g * hidden), bih = random(g), bhh = random(g), dOut = random(t * b * hidden)
            var results: [[Float]] = []
            for mode in [RecurrentGEMM.blas, .packed] {
                RecurrentGEMM.current = mode
                let layer = RecurrentLayer(cell: cell, input: input, hidden: hidden, batch: b, maxT: t)
                layer.forward(t: t, x: x.ptr, h0: h0.ptr, c0: c0.ptr, wih: wih.ptr, whh: whh.ptr, bih: bih.ptr, bhh: bhh.ptr)
                let out = Array(UnsafeBufferPointer(start: layer.output, count: t * b * hidden))
                let d = FloatBuffer(count: dOut.count); d.copy(from: dOut)
                let dX = FloatBuffer(count: x.count), dwih = FloatBuffer(count: wih.count), dwhh = FloatBuffer(count: whh.count)
                let dbih = FloatBuffer(count: g), dbhh = FloatBuffer(count: g)
                layer.backward(t: t, x: x.ptr, dOut: d.ptr, dX: dX.ptr, wih: wih.ptr, whh: whh.ptr, dwih: dwih.ptr, dwhh: dwhh.ptr,
                               dbih: dbih.ptr, dbhh: dbhh.ptr)
                results.append(out + dX.array + dwih.array + dwhh.array + dbih.array + dbhh.array)
            }
            XCTAssertEqual(results[0].count, results[1].count)
            var worst: Float = 0
            for (p, q) in zip(results[0], results[1]) { worst = max(worst, abs(p - q)) }
            XCTAssertLessThan(worst, 1e-5, "\(cell): packed and BLAS products differ by \(worst)")
            XCTAssertGreaterThan(results[0].map { abs($0) }.max()!, 0.01)
        }
    }
}
