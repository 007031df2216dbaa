import XCTest
import Foundation
@testable import DDPLM

/// The decoder split by vocabulary rows (`VocabParallelDecoder`) on N in-process ranks against the whole
/// decoder (`Decoder`, gradient-checked in `GradientCheckTests`) in one process on every rank's rows, and
/// a finite-difference check of its own backward.
final class VocabParallelDecoderTests: XCTestCase {
    let vocab = 37, hidden = 6, rowsPerRank = 5, scale: Float = 0.3

    struct Problem {
        var h: [Float]        // [N·n, H], rank-major
        var targets: [Int32]  // [N·n]
        var w: [Float]        // [V, H]
        var b: [Float]        // [V]
    }

    func problem(ranks: Int, seed: UInt64) -> Problem {
        var rng = SplitMix64(seed: seed)
        let rows = ranks * rowsPerRank
        return Problem(h: (0..<rows * hidden).map { _ in rng.nextFloat() * 2 - 1 },
                       targets: (0..<rows).map { _ in Int32(rng.next() % UInt64(vocab)) },
                       w: (0..<vocab * hidden).map { _ in rng.nextFloat() - 0.5 },
                       b: (0..<vocab).map { _ in rng.nextFloat() - 0.5 })
    }

    /// Per rank: the loss over its rows, dW and db (whole tensors: only its rows are written), dh of its rows.
    /// `chunkRows` nil: one chunk (all rows' logits at once); else chunks of N·chunkRows gathered rows.
    func split(_ p: Problem, ranks: Int, threads: Int = 1, chunkRows: Int? = nil, grad: Bool = true) throws -> [(loss: Double, dw: [Float], db: [Float], dh: [Float])] {
        let (v, hd, n, scale) = (vocab, hidden, rowsPerRank, scale)
        return try InProcessCommunicator.run(ranks: ranks) { comm in
            let split = VocabSplit(weight: 0, bias: v * hd, rows: v, width: hd, ranks: comm.size)
            let dec = VocabParallelDecoder(split: split, comm: comm, rows: n, chunkRows: chunkRows ?? n, threads: ComputeThreads(threads))
            XCTAssertEqual(dec.logits.count, min((chunkRows ?? n) * comm.size, n * comm.size) * split.rows(of: comm.rank).count,
                           "the logits of one chunk (N·chunkRows rows of V/N), not of every row")
            let h = Array(p.h[comm.rank * n * hd..<(comm.rank + 1) * n * hd]), y = Array(p.targets[comm.rank * n..<(comm.rank + 1) * n])
            var dw = [Float](repeating: 0, count: v * hd), db = [Float](repeating: 0, count: v), dh = [Float](repeating: 0, count: n * hd)
            let loss = try dw.withUnsafeMutableBufferPointer { dwp in try db.withUnsafeMutableBufferPointer { dbp in try dh.withUnsafeMutableBufferPointer { dhp in
                try dec.lossAndGradient(rows: n, h: h, targets: y, w: p.w, bias: p.b, scale: scale,
                                        grad: grad ? (dwp.baseAddress!, dbp.baseAddress!, dhp.baseAddress!) : nil)
            } } }
            return (loss, dw, db, dh)
        }
    }

    func testMatchesTheWholeDecoderOnEveryRanksRows() throws {
        // one chunk; chunks that split a rank's rows and end short (6 of 10 rows, 6 of 15), 4 of 20
        for (ranks, chunkRows) in [(2, nil), (3, nil), (4, nil), (2, 3), (3, 2), (4, 1)] as [(Int, Int?)] {
            for threads in [1, 2] {
                let p = problem(ranks: ranks, seed: UInt64(ranks))
                let rows = ranks * rowsPerRank
                let whole = Decoder(vocab: vocab, hidden: hidden, chunkRows: 4, threads: .one)
                var dw = [Float](repeating: 0, count: vocab * hidden), db = [Float](repeating: 0, count: vocab), dh = [Float](repeating: 0, count: rows * hidden)
                let loss = dw.withUnsafeMutableBufferPointer { dwp in db.withUnsafeMutableBufferPointer { dbp in dh.withUnsafeMutableBufferPointer { dhp in
                    whole.lossAndGradient(rows: rows, h: p.h, targets: p.targets, w: p.w, bias: p.b, scale: scale,
                                          grad: (dwp.baseAddress!, dbp.baseAddress!, dhp.baseAddress!))
                } } }
                let got = try split(p, ranks: ranks, threads: threads, chunkRows: chunkRows)
                let what = "\(ranks) ranks, \(threads) threads, chunks of \(chunkRows.map(String.init) ?? "all") rows"
                XCTAssertEqual(got.reduce(0) { $0 + $1.loss }, loss, accuracy: 1e-5 * loss, what)
                for r in 0..<ranks {  // each rank's loss is its own rows'
                    let rows = r * rowsPerRank..<(r + 1) * rowsPerRank
                    let own = whole.lossAndGradient(rows: rowsPerRank, h: Array(p.h[rows.lowerBound * hidden..<rows.upperBound * hidden]),
                                                    targets: Array(p.targets[rows]), w: p.w, bias: p.b, scale: scale, grad: nil)
                    XCTAssertEqual(got[r].loss, own, accuracy: 1e-5 * own, "\(what): rank \(r)'s loss")
                }
                let forward = try split(p, ranks: ranks, chunkRows: chunkRows, grad: false)
                for r in 0..<ranks { XCTAssertEqual(forward[r].loss, got[r].loss, "\(what): the loss without gradients") }
                let owner = VocabSplit(weight: 0, bias: vocab * hidden, rows: vocab, width: hidden, ranks: ranks)
                for r in 0..<ranks {
                    for row in 0..<vocab {
                        let mine = owner.rows(of: r).contains(row)
                        XCTAssertEqual(got[r].db[row], mine ? db[row] : 0, accuracy: 1e-6, "\(what): db[\(row)] on rank \(r)")
                        for j in 0..<hidden {
                            XCTAssertEqual(got[r].dw[row * hidden + j], mine ? dw[row * hidden + j] : 0, accuracy: 1e-6, "\(what): dW[\(row)] on rank \(r)")
                        }
                    }
                    for i in 0..<rowsPerRank * hidden {
                        XCTAssertEqual(got[r].dh[i], dh[r * rowsPerRank * hidden + i], accuracy: 1e-6, "\(what): dh on rank \(r)")
                    }
                }
            }
        }
    }

    /// Central differences of the total loss (summed over ranks) × scale, against the split backward,
    /// for entries of W, b and h on different ranks, in chunks of 6 of the 15 rows.
    func testGradientMatchesFiniteDifferences() throws {
        let ranks = 3
        let p = problem(ranks: ranks, seed: 41)
        let got = try split(p, ranks: ranks, chunkRows: 2)
        let owner = VocabSplit(weight: 0, bias: vocab * hidden, rows: vocab, width: hidden, ranks: ranks)
        func total(_ q: Problem) throws -> Double { try split(q, ranks: ranks, chunkRows: 2, grad: false).reduce(0) { $0 + $1.loss } * Double(scale) }
        let eps: Float = 1e-2
        for (row, j) in [(0, 0), (13, 4), (36, 5), (Int(p.targets[2]), 1)] {
            var plus = p, minus = p
            plus.w[row * hidden + j] += eps; minus.w[row * hidden + j] -= eps
            let numeric = (try total(plus) - total(minus)) / Double(2 * eps)
            let r = (0..<ranks).first { owner.rows(of: $0).contains(row) }!
            XCTAssertEqual(Double(got[r].dw[row * hidden + j]), numeric, accuracy: 2e-3 * max(1, abs(numeric)), "dW[\(row), \(j)]")
        }
        for row in [1, 20, Int(p.targets[7])] {
            var plus = p, minus = p
            plus.b[row] += eps; minus.b[row] -= eps
            let numeric = (try total(plus) - total(minus)) / Double(2 * eps)
            let r = (0..<ranks).first { owner.rows(of: $0).contains(row) }!
            XCTAssertEqual(Double(got[r].db[row]), numeric, accuracy: 2e-3 * max(1, abs(numeric)), "db[\(row)]")
        }
        for i in [0, 17, 2 * rowsPerRank * hidden + 3, ranks * rowsPerRank * hidden - 1] {
            var plus = p, minus = p
            plus.h[i] += eps; minus.h[i] -= eps
            let numeric = (try total(plus) - total(minus)) / Double(2 * eps)
            let r = i / (rowsPerRank * hidden)
            XCTAssertEqual(Double(got[r].dh[i - r * rowsPerRank * hidden]), numeric, accuracy: 2e-3 * max(1, abs(numeric)), "dh[\(i)]")
        }
    }
}
