import XCTest
import CKernels
@testable import DDPLM
import Foundation

/// Fast kernels against their naive twins.
final class KernelTests: XCTestCase {
    func testGemmMatchesNaiveForAllTransposes() {
        var rng = SplitMix64(seed: 1)
        let m = 13, n = 29, k = 17
        let a = FloatBuffer(count: m * k), b = FloatBuffer(count: k * n)
        for i in 0..<a.count { a[i] = rng.nextFloat() - 0.5 }
        for i in 0..<b.count { b[i] = rng.nextFloat() - 0.5 }
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            for beta: Float in [0, 1] {
                let c1 = FloatBuffer(count: m * n), c2 = FloatBuffer(count: m * n)
                for i in 0..<c1.count { c1[i] = Float(i % 7); c2[i] = Float(i % 7) }
                let lda = ta ? m : k, ldb = tb ? k : n
                gemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5, a: a.ptr, lda: lda, b: b.ptr, ldb: ldb, beta: beta, c: c1.ptr, ldc: n)
                naiveGemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5, a: a.ptr, lda: lda, b: b.ptr, ldb: ldb, beta: beta, c: c2.ptr, ldc: n)
                for i in 0..<c1.count { XCTAssertEqual(c1[i], c2[i], accuracy: 1e-5, "ta=\(ta) tb=\(tb) beta=\(beta) i=\(i)") }
            }
        }
    }

    /// The node-shared gradients' reduce-scatter: each element summed left to right over the sources, the
    /// result written over the last one, whatever the tile edges and the parts; and the result's sum of
    /// squares, the bits of `ddplm_sumsq` over it.
    func testOrderedSumMatchesNaive() {
        var rng = SplitMix64(seed: 9)
        for (n, count, parts) in [(1, 5, 1), (2, 1024, 1), (3, 2049, 1), (4, 70_001, 3), (5, 16, 2), (2, 12_289, 4), (3, 8192, 5)] {
            let sources = (0..<n).map { _ in FloatBuffer(count: count) }
            for b in sources { for i in 0..<count { b[i] = (rng.nextFloat() - 0.5) * Float(1 << (i % 7)) } }
            var expected = [Float](repeating: 0, count: count)
            for i in 0..<count {
                var acc = sources[0][i]
                for j in 1..<max(n, 1) where j < n { acc += sources[j][i] }
                expected[i] = acc
            }
            let pointers = UnsafeMutablePointer<UnsafePointer<Float>?>.allocate(capacity: n)
            defer { pointers.deallocate() }
            for j in 0..<n { pointers[j] = UnsafePointer(sources[j].ptr) }
            let squares = UnsafeMutablePointer<Double>.allocate(capacity: (count + Int(DDPLM_SUMSQ_BLOCK) - 1) / Int(DDPLM_SUMSQ_BLOCK))
            defer { squares.deallocate() }
            let sumsq = ddplm_sum_ordered_parts(parts, sources[n - 1].ptr, pointers, Int32(n), count, squares)
            XCTAssertTrue(sources[n - 1].array == expected, "\(n) sources, \(count) floats, \(parts) parts")
            XCTAssertEqual(sumsq.bitPattern, ddplm_sumsq(sources[n - 1].ptr, count).bitPattern, "\(n) sources, \(count) floats, \(parts) parts")
            let naive = expected.reduce(0.0) { $0 + Double($1) * Double($1) }
            XCTAssertEqual(sumsq, naive, accuracy: 1e-5 * naive)
        }
    }

    func testExpSigmoidTanhMatchLibm() {
        // 1000 points over the useful range, plus lengths that exercise the vector tail.
        for n in [1, 15, 16, 17, 1000] {
            let x = FloatBuffer(count: n), y = FloatBuffer(count: n)
            for i in 0..<n { x[i] = -20 + 40 * Float(i) / Float(max(1, n - 1)) }
            ddplm_vexp(x.ptr, y.ptr, n)
            for i in 0..<n { XCTAssertEqual(y[i], expf(x[i]), accuracy: 3e-7 * max(1, expf(x[i])), "exp(\(x[i]))") }
            vsigmoid(x.ptr, y.ptr, n)
            for i in 0..<n { XCTAssertEqual(y[i], 1 / (1 + expf(-x[i])), accuracy: 1e-6, "sigmoid(\(x[i]))") }
            vtanh(x.ptr, y.ptr, n)
            for i in 0..<n { XCTAssertEqual(y[i], tanhf(x[i]), accuracy: 1e-6, "tanh(\(x[i]))") }
        }
        // saturation: no inf/nan at the extremes
        let x = FloatBuffer(count: 4), y = FloatBuffer(count: 4)
        x.load([-1000, -90, 90, 1000])
        ddplm_vexp(x.ptr, y.ptr, 4)
        XCTAssertEqual(y[0], 0, accuracy: 1e-37)
        XCTAssertTrue(y[3].isFinite && y[3] > 1e38)
        vtanh(x.ptr, y.ptr, 4)
        XCTAssertEqual(y.array, [-1, -1, 1, 1])
    }

    /// The plain reference: softmax and CE in Double.
    func naiveSoftmaxCE(_ logits: [Float], bias: [Float], target: Int, scale: Float) -> (loss: Double, grad: [Float]) {
        let z = zip(logits, bias).map { Double($0) + Double($1) }
        let m = z.max()!
        let s = z.reduce(0) { $0 + exp($1 - m) }
        let loss = (m + log(s)) - z[target]
        var g = z.map { Float(Double(scale) * exp($0 - m) / s) }
        g[target] -= scale
        return (loss, g)
    }

    func testFusedSoftmaxCrossEntropyRowMatchesNaive() {
        var rng = SplitMix64(seed: 2)
        for v in [3, 16, 37, 100, 1003] {
            let logits = (0..<v).map { _ in (rng.nextFloat() - 0.5) * 20 }
            let bias = (0..<v).map { _ in rng.nextFloat() - 0.5 }
            let target = v / 3
            let (refLoss, refGrad) = naiveSoftmaxCE(logits, bias: bias, target: target, scale: 0.25)
            let row = FloatBuffer(count: v), b = FloatBuffer(count: v), db = FloatBuffer(count: v)
            row.load(logits); b.load(bias)
            for i in 0..<v { db[i] = 1 }
            let loss = ddplm_softmax_xent_row(row.ptr, v, b.ptr, target, 0.25, db.ptr)
            XCTAssertEqual(loss, refLoss, accuracy: 1e-5 * max(1, refLoss), "V=\(v)")
            for i in 0..<v {
                XCTAssertEqual(row[i], refGrad[i], accuracy: 1e-7, "V=\(v) i=\(i)")
                XCTAssertEqual(db[i], 1 + refGrad[i], accuracy: 1e-6)
            }
            row.load(logits)
            XCTAssertEqual(ddplm_xent_row(row.ptr, v, b.ptr, target), refLoss, accuracy: 1e-5 * max(1, refLoss))
        }
    }

    /// The vocab-parallel decoder's two row kernels against a plain double-precision twin: row + bias, its
    /// maximum and Σexp(x − max); then scale·exp(x − lse) and its sum into dbias. Lengths cover the
    /// 16-wide body, the tail alone, and both.
    func testSplitSoftmaxRowKernelsMatchNaive() {
        var rng = SplitMix64(seed: 12)
        for v in [1, 5, 15, 16, 17, 100, 1003] {
            let logits = (0..<v).map { _ in (rng.nextFloat() - 0.5) * 20 }
            let bias = (0..<v).map { _ in rng.nextFloat() - 0.5 }
            let x = zip(logits, bias).map { $0 + $1 }
            let m = x.max()!
            let sum = x.reduce(0.0) { $0 + exp(Double($1 - m)) }
            let row = FloatBuffer(count: v), b = FloatBuffer(count: v), db = FloatBuffer(count: v)
            row.load(logits); b.load(bias)
            var gotMax: Float = 0
            let gotSum = ddplm_bias_max_sumexp_row(row.ptr, v, b.ptr, &gotMax)
            XCTAssertEqual(gotMax, m, "V=\(v)")
            XCTAssertEqual(gotSum, sum, accuracy: 1e-5 * sum, "V=\(v)")
            for i in 0..<v { XCTAssertEqual(row[i], x[i], "V=\(v): row + bias") }
            let lse = Float(Double(m) + log(sum)) + 0.75  // any lse: the kernel only subtracts it
            for i in 0..<v { db[i] = 1 }
            ddplm_softmax_grad_row(row.ptr, v, lse, 0.25, db.ptr)
            for i in 0..<v {
                let want = 0.25 * exp(Double(x[i] - lse))
                XCTAssertEqual(Double(row[i]), want, accuracy: 1e-6 * max(want, 1e-3), "V=\(v) i=\(i)")
                XCTAssertEqual(Double(db[i]), 1 + want, accuracy: 1e-6, "V=\(v) i=\(i)")
            }
            row.load(x)
            ddplm_softmax_grad_row(row.ptr, v, lse, 0.25, nil)
            for i in 0..<v { XCTAssertEqual(Double(row[i]), 0.25 * exp(Double(x[i] - lse)), accuracy: 1e-6 * max(0.25 * exp(Double(x[i] - lse)), 1e-3)) }
        }
    }

    /// The chunked decoder must give the same loss and gradients whatever the chunk size and thread count.
    func testDecoderChunkingAndThreadsAgree() {
        var rng = SplitMix64(seed: 3)
        let v = 41, h = 6, n = 23
        let hs = FloatBuffer(count: n * h), w = FloatBuffer(count: v * h), bias = FloatBuffer(count: v)
        for i in 0..<hs.count { hs[i] = rng.nextFloat() - 0.5 }
        for i in 0..<w.count { w[i] = rng.nextFloat() - 0.5 }
        for i in 0..<v { bias[i] = rng.nextFloat() - 0.5 }
        var targets = (0..<n).map { _ in Int32(rng.next() % UInt64(v)) }
        var results: [(Double, [Float], [Float], [Float])] = []
        for (chunk, threads) in [(n, 1), (5, 1), (1, 1), (7, 3)] {
            let d = Decoder(vocab: v, hidden: h, chunkRows: chunk, threads: ComputeThreads(threads))
            let dw = FloatBuffer(count: v * h), db = FloatBuffer(count: v), dh = FloatBuffer(count: n * h)
            let loss = targets.withUnsafeMutableBufferPointer {
                d.lossAndGradient(rows: n, h: hs.ptr, targets: $0.baseAddress!, w: w.ptr, bias: bias.ptr, scale: 0.1, grad: (dw.ptr, db.ptr, dh.ptr))
            }
            results.append((loss, dw.array, db.array, dh.array))
        }
        for r in results.dropFirst() {
            XCTAssertEqual(r.0, results[0].0, accuracy: 1e-9)
            for (a, b) in zip(r.1, results[0].1) { XCTAssertEqual(a, b, accuracy: 1e-6) }
            for (a, b) in zip(r.2, results[0].2) { XCTAssertEqual(a, b, accuracy: 1e-6) }
            for (a, b) in zip(r.3, results[0].3) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        }
    }
}
