import XCTest
import CKernels
@testable import DDPLM
import Foundation

/// The opt-in bf16 gradient wire: the conversions against a plain-Swift twin, the in-process ring
/// arithmetic, and 2 ranks training with it (no exactness: it changes the trajectory by design).
final class GradientWireTests: XCTestCase {
    /// Round to nearest, ties to even, on the float's bits, the slow way: pick the nearer of the two bf16
    /// neighbours in Double.
    static func naiveBF16(_ x: Float) -> UInt16 {
        if x.isNaN { return UInt16(truncatingIfNeeded: (x.bitPattern | 0x0040_0000) >> 16) }
        let down = UInt16(truncatingIfNeeded: x.bitPattern >> 16)
        let lo = Float(bitPattern: UInt32(down) << 16)
        if lo == x || x.isInfinite { return down }
        let up = down &+ 1
        let hi = Float(bitPattern: UInt32(up) << 16)  // may be ±Inf: the next bf16 past the largest
        let hiD = hi.isInfinite ? Double(lo.sign == .minus ? -1 : 1) * 0x1p128 : Double(hi)
        let dLo = abs(Double(x) - Double(lo)), dHi = abs(hiD - Double(x))
        if dLo != dHi { return dLo < dHi ? down : up }
        return down & 1 == 0 ? down : up
    }

    func encode(_ xs: [Float]) -> [UInt16] {
        var y = [UInt16](repeating: 0, count: xs.count)
        xs.withUnsafeBufferPointer { x in y.withUnsafeMutableBufferPointer { BFloat16.encode(x.baseAddress!, $0.baseAddress!, count: xs.count) } }
        return y
    }

    func decode(_ hs: [UInt16]) -> [Float] {
        var y = [Float](repeating: 0, count: hs.count)
        hs.withUnsafeBufferPointer { x in y.withUnsafeMutableBufferPointer { ddplm_bf16_to_f32(x.baseAddress!, $0.baseAddress!, hs.count) } }
        return y
    }

    func testEveryBF16ValueRoundTripsExactly() {
        let all = (0...0xffff).map { UInt16($0) }
        let floats = decode(all)
        for (h, f) in zip(all, floats) { XCTAssertEqual(f.bitPattern, UInt32(h) << 16) }
        let back = encode(floats)
        for (h, b) in zip(all, back) {
            if floats[Int(h)].isNaN {
                XCTAssertTrue(Float(bitPattern: UInt32(b) << 16).isNaN, "NaN \(h) must stay NaN")
            } else {
                XCTAssertEqual(b, h, "bf16 \(String(h, radix: 16)) must survive float and back")
            }
        }
    }

    func testRoundingMatchesTheNaiveTwinAndIsWithinHalfAnUlp() {
        var rng = SplitMix64(seed: 11)
        var xs: [Float] = [1 + 0x1p-8, 1 + 3 * 0x1p-8, -(1 + 0x1p-8), 1 + 0x1p-8 + 0x1p-20, 0x1p-130, -0x1p-140, 0, -0.0,
                           .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .infinity, -.infinity, .nan,
                           Float(bitPattern: 0x7f80_0001), Float(bitPattern: 0x7f7f_8000), Float(bitPattern: 0x7f7f_7fff)]
        for _ in 0..<100_000 {  // all kinds of bit patterns, and ordinary gradients
            xs.append(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())))
            xs.append((rng.nextFloat() - 0.5) * 1e-3)
        }
        let got = encode(xs)
        for (x, h) in zip(xs, got) {
            let want = Self.naiveBF16(x)
            if x.isNaN { XCTAssertTrue(Float(bitPattern: UInt32(h) << 16).isNaN); continue }
            // ddplm runs with denormals flushed to zero (FTZ|DAZ, CKernels/system.c): a subnormal's rounding
            // depends on which arithmetic touched it, and training never sees one
            if x.isSubnormal { continue }
            XCTAssertEqual(h, want, "\(x) (bits \(String(x.bitPattern, radix: 16)))")
            let y = Float(bitPattern: UInt32(h) << 16)
            if x.isFinite && y.isFinite && x.isNormal {
                XCTAssertLessThanOrEqual(abs(Double(y) - Double(x)), abs(Double(x)) * 0x1p-8, "\(x)")
            }
        }
        // ties go to the even mantissa; past the largest bf16 is Inf
        XCTAssertEqual(decode(encode([1 + 0x1p-8, 1 + 3 * 0x1p-8, .greatestFiniteMagnitude])), [1, 1 + 0x1p-6, .infinity])
    }

    func testAddDecodesAndAccumulatesInFloat() {
        var y: [Float] = [1, 2, 3e-8, -4]
        let x = encode([0.5, 1e-3, 1, 4])
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { BFloat16.add(xp.baseAddress!, into: $0.baseAddress!, count: 4) } }
        XCTAssertEqual(y, [1.5, 2 + decode([x[1]])[0], 3e-8 + 1, 0])
    }

    /// Block b's partial sum starts at rank b+1 and is rounded before each of the N−1 hops; small
    /// integers add exactly; the result is the same on every replay.
    func testInProcessBF16ReduceScatterIsTheRingsArithmetic() throws {
        for n in [2, 3, 4] {
            let per = 6
            @Sendable func data(_ r: Int) -> [Float] { (0..<(n * per)).map { i in Float(i % 7 + r) * (1 + Float(r) * 0.013) + 1e-3 * Float(i) } }
            let got = try InProcessCommunicator.run(ranks: n) { comm -> [Float] in
                var d = data(comm.rank)
                try d.withUnsafeMutableBufferPointer { try comm.reduceScatterSumBF16($0.baseAddress!, countPerRank: per) }
                return Array(d[(comm.rank * per)..<((comm.rank + 1) * per)])
            }
            for b in 0..<n {
                for j in 0..<per {
                    let i = b * per + j
                    var acc = data((b + 1) % n)[i]
                    for k in 2...n { acc = data((b + k) % n)[i] + Float(bitPattern: UInt32(Self.naiveBF16(acc)) << 16) }
                    XCTAssertEqual(got[b][j], acc, "\(n) ranks, block \(b), element \(j)")
                    let exact = (0..<n).reduce(0.0) { $0 + Double(data($1)[i]) }
                    XCTAssertEqual(Double(got[b][j]), exact, accuracy: exact * Double(n - 1) * 0x1p-8 + 1e-6)
                }
            }
            let ints = try InProcessCommunicator.run(ranks: n) { comm -> [Float] in
                var d = (0..<(n * per)).map { Float($0 % 5 + comm.rank) }
                try d.withUnsafeMutableBufferPointer { try comm.reduceScatterSumBF16($0.baseAddress!, countPerRank: per) }
                return Array(d[(comm.rank * per)..<((comm.rank + 1) * per)])
            }
            for b in 0..<n { XCTAssertEqual(ints[b], (0..<per).map { j in Float(n * ((b * per + j) % 5) + n * (n - 1) / 2) }) }
        }
    }
}

/// (An extension, to reuse the small run of the distributed tests.)
extension DistributedTests {
    /// The whole loop on 2 in-process ranks with the bf16 wire: it learns, every rank holds the same
    /// weights, config.json records the setting, and it stays close to (not equal to) the fp32 run.
    func testTwoRanksTrainWithTheBF16Wire() throws {
        let (dir, base, corpora) = try smallRun()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var wired = base
        wired.training.gradientWire = .bf16
        let bf16 = wired, fp32 = base
        _ = try InProcessCommunicator.run(ranks: 2) { comm in
            try LanguageModelTraining.run(config: fp32, corpora: corpora, options: DistributedTests.options(dir + "/fp32"), comm: comm)
        }
        var checked = DistributedTests.options(dir + "/bf16")
        checked.checkEvery = 1  // every step: the ranks' weights hash alike, or the run throws
        let options = checked
        let runs = try InProcessCommunicator.run(ranks: 2) { comm in
            try LanguageModelTraining.run(config: bf16, corpora: corpora, options: options, comm: comm)
        }
        XCTAssertEqual(runs[0].state.step, 40)
        XCTAssertEqual(runs[0].testLoss, runs[1].testLoss)
        let a = try Self.losses(dir + "/fp32", "train"), b = try Self.losses(dir + "/bf16", "train")
        XCTAssertEqual(a.count, 40)
        XCTAssertEqual(b.count, 40)
        XCTAssertEqual(a[0], b[0], "the first loss comes before any exchange")
        XCTAssertNotEqual(a, b, "bf16 rounding must show in the trajectory")
        XCTAssertLessThan(b.suffix(5).reduce(0, +) / 5, b.prefix(5).reduce(0, +) / 5 - 0.3, "the bf16 run must learn")
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 0.02 * max(1, abs(x))) }
        let va = try Self.losses(dir + "/fp32", "valid"), vb = try Self.losses(dir + "/bf16", "valid")
        XCTAssertEqual(va.count, vb.count)
        for (x, y) in zip(va, vb) { XCTAssertEqual(x, y, accuracy: 0.02 * max(1, abs(x))) }
        let config = try String(contentsOfFile: dir + "/bf16/config.json", encoding: .utf8)
        XCTAssertTrue(config.contains("\"gradientWire\""), config)
        XCTAssertFalse(try String(contentsOfFile: dir + "/fp32/config.json", encoding: .utf8).contains("gradientWire"))
        XCTAssertNotEqual(bf16.identity, fp32.identity)
        // a config.json written before the setting existed reads as fp32
        let decoded = try JSONDecoder().decode(RunConfig.TrainingConfig.self, from: Data(#"{"lr":0.001,"lrDecay":0.5,"clip":5,"evalEvery":200,"seed":53113,"chunkRows":800}"#.utf8))
        XCTAssertEqual(decoded, RunConfig.TrainingConfig())
    }
}
