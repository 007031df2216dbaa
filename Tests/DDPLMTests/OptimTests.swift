import XCTest
@testable import DDPLM
import Foundation

final class OptimTests: XCTestCase {
    /// A bare store of `n` parameters (one tensor).
    func store(_ n: Int, ranks: Int = 1, rank: Int = 0) -> ParameterStore {
        var l = ParameterLayout()
        l.add("w", [n])
        return ParameterStore(layout: l, ranks: ranks, rank: rank)
    }

    /// Adam on two parameters for three steps against values worked out from the update rule by hand.
    func testAdamMatchesHandComputedSteps() {
        let adam = Adam()
        let s = store(2)
        let p = s.params, g = s.grads
        p[0] = 1.0; p[1] = -2.0
        // step 1, g = (0.5, -1): m = 0.1 g, v = 0.001 g², m̂ = g, v̂ = g² → p -= lr · g/(|g| + ε) = lr · sign(g)
        g[0] = 0.5; g[1] = -1.0
        adam.update(s, range: 0..<2, step: 1, lr: 0.1)
        XCTAssertEqual(p[0], 0.9, accuracy: 1e-6)
        XCTAssertEqual(p[1], -1.9, accuracy: 1e-6)
        // step 2, g = (0.5, 0): m = (0.095, -0.09), v = (0.0004998, 0.000999)
        //   m̂ = m / 0.19, v̂ = v / 0.001999
        //   p0 -= 0.1 · 0.5 / (0.5 + ε) ; p1 -= 0.1 · (-0.47368) / (0.70693)
        g[0] = 0.5; g[1] = 0
        adam.update(s, range: 0..<2, step: 2, lr: 0.1)
        XCTAssertEqual(p[0], 0.8, accuracy: 1e-6)
        let m1 = -0.09 / 0.19, v1 = (0.999 * 0.001) / (1 - 0.999 * 0.999)
        XCTAssertEqual(Double(p[1]), -1.9 - 0.1 * m1 / (v1.squareRoot() + 1e-8), accuracy: 1e-6)
        // step 3 with lr 0: moments move, weights do not
        let before = p.array
        adam.update(s, range: 0..<2, step: 3, lr: 0)
        XCTAssertEqual(p.array, before)
    }

    /// The vectorised Adam (with the clip factor folded in) against a plain loop: clip the gradients, then
    /// apply torch's update rule, over a long buffer with a vector tail.
    func testFusedClipAndAdamMatchNaiveTwin() {
        let n = 1037
        var rng = SplitMix64(seed: 4)
        let s = store(n)
        let p = s.params, g = s.grads
        for i in 0..<n { p[i] = rng.nextFloat() - 0.5; g[i] = (rng.nextFloat() - 0.5) * 3 }
        var rp = p.array, rm = [Float](repeating: 0, count: n), rv = [Float](repeating: 0, count: n)
        let adam = Adam(threads: ComputeThreads(3))
        for step in 1...3 {
            let norm = GradClip.sumOfSquares(g.ptr, count: n).squareRoot()
            let coef = GradClip.coefficient(norm: norm, maxNorm: 5)
            XCTAssertLessThan(coef, 1)
            adam.update(s, range: 0..<n, step: step, lr: 0.01, gradScale: coef)
            let bc1 = 1 - pow(0.9, Double(step)), bc2 = 1 - pow(0.999, Double(step))
            for i in 0..<n {
                let gi = g[i] * coef
                rm[i] = rm[i] + Float(0.1) * (gi - rm[i])
                rv[i] = Float(0.999) * rv[i] + Float(1 - 0.999) * gi * gi
                rp[i] -= Float(0.01 / bc1) * (rm[i] / (rv[i].squareRoot() / Float(bc2.squareRoot()) + 1e-8))
            }
        }
        for i in 0..<n {
            XCTAssertEqual(p[i], rp[i], accuracy: 1e-6)
            XCTAssertEqual(s.m[i], rm[i], accuracy: 1e-7)
            XCTAssertEqual(s.v[i], rv[i], accuracy: 1e-8)
        }
    }

    /// Optimizer shards tile [0, P) exactly, for any rank count and piece: rounds back to back from
    /// `base`, each N equal 16-aligned pieces (every round's but the last's `piece` floats), each rank
    /// owning its piece of every round. A small region is one round (contiguous blocks), a large one
    /// about `targetRounds`.
    func testOptimizerShardsTileTheParameters() {
        for p in [1, 15, 16, 17, 1000, 10_131_202] {
            for n in 1...5 {
                for piece in [nil, 16, 48] as [Int?] where piece == nil || p <= 100_000 {
                    var owner = [Int](repeating: -1, count: p)
                    for r in 0..<n {
                        let s = OptimizerShard(parameters: p, ranks: n, rank: r, base: 5, piece: piece)
                        var at = 5
                        for (j, round) in s.rounds.enumerated() {
                            XCTAssertEqual(round.start, at)
                            XCTAssertEqual(round.chunk % 16, 0)
                            if j < s.rounds.count - 1 { XCTAssertEqual(round.chunk, s.piece) } else { XCTAssertLessThanOrEqual(round.chunk, s.piece) }
                            at += n * round.chunk
                        }
                        XCTAssertEqual(at - 5, s.padded)
                        XCTAssertGreaterThanOrEqual(s.padded, p)
                        XCTAssertLessThan(s.padded - p, n * s.rounds.last!.chunk, "P=\(p) N=\(n): a whole padded round")
                        XCTAssertEqual(s.owned.count, s.rounds.filter { $0.piece(r).lowerBound < 5 + p }.count)
                        let starts = Set(s.rounds.map { $0.piece(r).lowerBound })
                        var twice = 0
                        for range in s.owned {
                            XCTAssertTrue(starts.contains(range.lowerBound))
                            for i in range { if owner[i - 5] != -1 { twice += 1 }; owner[i - 5] = r }
                        }
                        XCTAssertEqual(twice, 0, "P=\(p) N=\(n): floats owned twice")
                        XCTAssertEqual(s.count, s.owned.reduce(0) { $0 + $1.count })
                    }
                    XCTAssertFalse(owner.contains(-1), "P=\(p) N=\(n) piece \(String(describing: piece))")
                }
                let standard = OptimizerShard(parameters: p, ranks: n, rank: 0)
                let share = ((p + n - 1) / n + 15) & ~15
                if n == 1 || share <= OptimizerShard.minimumPiece { XCTAssertEqual(standard.rounds.count, 1, "P=\(p) N=\(n)") }
                else { XCTAssertEqual(standard.rounds.count, OptimizerShard.targetRounds, accuracy: 1, "P=\(p) N=\(n)") }
            }
        }
    }

    /// Adam over shards (as N ranks run it) equals Adam over the whole buffer, and a multi-threaded
    /// update (above 2^16 parameters, split in 16-aligned parts) equals a single-threaded one.
    func testShardedAndThreadedAdamEqualWholeBufferAdam() {
        for (n, threads) in [(333, 1), (200_003, 3)] {
            let ranks = 3
            var rng = SplitMix64(seed: 8)
            let whole = store(n)
            for i in 0..<n { whole.grads[i] = rng.nextFloat() - 0.5; whole.params[i] = Float(i % 100) / 100 }
            Adam().update(whole, range: 0..<n, step: 1, lr: 0.01, gradScale: 0.5)
            var sharded = whole.params.array
            for r in 0..<ranks {
                let s = store(n, ranks: ranks, rank: r)
                for i in 0..<n { s.grads[i] = whole.grads[i]; s.params[i] = Float(i % 100) / 100 }
                XCTAssertGreaterThanOrEqual(s.params.count, s.shard.padded)
                for range in s.shard.owned {
                    Adam(threads: ComputeThreads(threads)).update(s, range: range, step: 1, lr: 0.01, gradScale: 0.5)
                    for i in range { sharded[i] = s.params[i] }
                }
            }
            XCTAssertEqual(Array(whole.params.array[0..<n]), Array(sharded[0..<n]), "n=\(n) threads=\(threads)")
        }
    }

    /// Adam asked to zero the gradients it reads updates the parameters and moments to the same bits, and
    /// leaves zeros in its range only (threaded and single, with a tail past the last 16-aligned part).
    func testAdamZeroingGradientsUpdatesTheSameAndZeroesItsRange() {
        for (n, threads) in [(333, 1), (200_003, 3)] {
            var rng = SplitMix64(seed: 9)
            let plain = store(n), zeroing = store(n)
            for i in 0..<n {
                plain.grads[i] = rng.nextFloat() - 0.5; plain.params[i] = Float(i % 100) / 100
                zeroing.grads[i] = plain.grads[i]; zeroing.params[i] = plain.params[i]
            }
            let range = 5..<(n - 7)
            for step in 1...2 {
                Adam(threads: ComputeThreads(threads)).update(plain, range: range, step: step, lr: 0.01, gradScale: 0.5)
                Adam(threads: ComputeThreads(threads)).update(zeroing, range: range, step: step, lr: 0.01, gradScale: 0.5,
                                                              zeroingGradients: step == 2)
            }
            XCTAssertEqual(plain.params.array, zeroing.params.array, "n=\(n)")
            XCTAssertEqual(plain.m.array, zeroing.m.array)
            XCTAssertEqual(plain.v.array, zeroing.v.array)
            for i in 0..<n {
                XCTAssertEqual(zeroing.grads[i], range.contains(i) ? 0 : plain.grads[i], "n=\(n) at \(i)")
            }
        }
    }

    /// clip_grad_norm_'s factor: maxNorm / (norm + 1e-6) above the threshold, 1 below; the vectorised sum
    /// of squares agrees with a plain sum over a long buffer (SIMD body and tail).
    func testClipCoefficientAndSumOfSquares() {
        XCTAssertEqual(GradClip.coefficient(norm: 5, maxNorm: 1), Float(1 / (5 + 1e-6)))
        XCTAssertEqual(GradClip.coefficient(norm: 5, maxNorm: 10), 1)
        XCTAssertEqual(GradClip.coefficient(norm: 0, maxNorm: 10), 1)
        let n = 1003
        let big = FloatBuffer(count: n)
        var s = 0.0
        for i in 0..<n { big[i] = Float(i % 13) - 6; s += Double(big[i] * big[i]) }
        XCTAssertEqual(GradClip.sumOfSquares(big.ptr, count: n), s, accuracy: 1e-9)
    }

    func testDropoutMasksDependOnlyOnGlobalPosition() {
        // the mask for global column 3 is the same whether it is column 3 of 4 or column 1 of a shard at 2
        let full = FloatBuffer(count: 2 * 4 * 5), shard = FloatBuffer(count: 2 * 2 * 5)
        Dropout.makeMask(full.ptr, t: 2, b: 4, width: 5, p: 0.5, seed: 1, step: 7, site: 0, firstColumn: 0)
        Dropout.makeMask(shard.ptr, t: 2, b: 2, width: 5, p: 0.5, seed: 1, step: 7, site: 0, firstColumn: 2)
        for s in 0..<2 { for j in 0..<2 { for u in 0..<5 {
            XCTAssertEqual(shard[(s * 2 + j) * 5 + u], full[(s * 4 + 2 + j) * 5 + u])
        } } }
        let kept = full.array.filter { $0 != 0 }
        XCTAssertTrue(kept.allSatisfy { $0 == 2 })
        XCTAssertTrue(kept.count > 5 && kept.count < 35)
    }
}
