import XCTest
@testable import DDPLM

/// The sparse embedding-gradient exchange against the dense sum it replaces: exact values (every row's
/// sum over ranks, untouched rows zero), the same bits on every rank, and a NaN row still travels; the
/// union becomes touched on every rank, and zeroing the store's gradients clears every row it wrote.
/// The rank counts cover each width of the packed marks' fields (2, 3 and 4 bits: 12, 8 and 6 rows per
/// float, 40 rows ending in a partly used float), with rows every rank touches (the largest count).
/// The marks exchanged ahead of the rows (`exchangeMarks`, as the overlapped exchange runs them during
/// the forward) give the same bits.
final class SparseRowExchangeTests: XCTestCase {
    func testSparseSumEqualsTheDenseSum() throws {
        let rows = 40
        // the wide rows: the packed block exceeds maxExchangeSegmentBytes and travels in parts
        for (n, width) in [(2, 6), (3, 6), (4, 6), (7, 6), (8, 6), (2, 20_000)] {
            // rank r touches rows ≡ r (mod 5), rows 7 and 8 are touched by everyone, row 30 by nobody
            @Sendable func grad(_ r: Int) -> [Float] {
                var rng = SplitMix64(seed: UInt64(r + 1))
                var g = [Float](repeating: 0, count: rows * width)
                for row in 0..<rows where row != 30 && (row % 5 == r % 5 || row == 7 || row == 8) {
                    for k in 0..<width { g[row * width + k] = rng.nextFloat() - 0.5 }
                }
                return g
            }
            let early = try InProcessCommunicator.run(ranks: n) { comm -> [Float] in
                var g = grad(comm.rank)
                let touched = TouchedRows(rows: rows)
                for row in 0..<rows where g[row * width] != 0 { touched.mark(row) }
                let x = SparseRowExchange(touched: touched, width: width, ranks: comm.size)
                try x.exchangeMarks(channel: comm)
                try g.withUnsafeMutableBufferPointer { try x.sum($0.baseAddress!, channel: comm) }
                return g
            }
            let results = try InProcessCommunicator.run(ranks: n) { comm -> ([Float], Int, Double) in
                var g = grad(comm.rank)
                let touched = TouchedRows(rows: rows)
                for row in 0..<rows where g[row * width] != 0 { touched.mark(row) }
                let x = SparseRowExchange(touched: touched, width: width, ranks: comm.size)
                try g.withUnsafeMutableBufferPointer { try x.sum($0.baseAddress!, channel: comm) }
                for row in 0..<rows {
                    XCTAssertEqual(touched.contains(row), g[(row * width)..<((row + 1) * width)].contains { $0 != 0 },
                                   "row \(row) on rank \(comm.rank) of \(n): touched after the sum exactly where it holds a sum")
                }
                return (g, x.lastRows, x.unionSumOfSquares())
            }
            var dense = [Double](repeating: 0, count: rows * width)
            let each = (0..<n).map(grad)
            for r in 0..<n { for (i, v) in each[r].enumerated() { dense[i] += Double(v) } }
            let union = (0..<rows).filter { row in (0..<n).contains { r in each[r][row * width] != 0 } }.count
            let sumsq = dense.reduce(0) { $0 + $1 * $1 }
            for (r, (g, touched, squares)) in results.enumerated() {
                XCTAssertEqual(squares, sumsq, accuracy: 1e-5 * sumsq, "the union's sum of squares on rank \(r) of \(n)")
                XCTAssertEqual(g, results[0].0, "rank \(r) of \(n) holds other bits than rank 0")
                XCTAssertEqual(early[r], g, "rank \(r) of \(n): the marks exchanged ahead of the rows")
                XCTAssertEqual(touched, union, "rows in the union on \(n) ranks")
                XCTAssertLessThanOrEqual((0..<(rows * width)).reduce(0) { max($0, abs(Double(g[$1]) - dense[$1])) }, 1e-6)
                XCTAssertTrue(g[(30 * width)..<(31 * width)].allSatisfy { $0 == 0 })
            }
        }
    }

    func testANaNRowTravels() throws {
        let results = try InProcessCommunicator.run(ranks: 2) { comm -> [Float] in
            var g: [Float] = comm.rank == 1 ? [0, 0, .nan, 0, 0, 0, 0, 0] : [0, 0, 0, 0, 0, 0, 1, 1]
            let touched = TouchedRows(rows: 4)
            touched.mark(comm.rank == 1 ? 1 : 3)
            let x = SparseRowExchange(touched: touched, width: 2, ranks: 2)
            try g.withUnsafeMutableBufferPointer { try x.sum($0.baseAddress!, channel: comm) }
            return g
        }
        for g in results {
            XCTAssertTrue(g[2].isNaN)
            XCTAssertEqual(Array(g[6...7]), [1, 1])
        }
    }

    /// One and two in-process ranks train three steps of an LSTM: untied (on 2 ranks the table's gradient
    /// is exchanged sparsely), tied, and with the decoder split by vocabulary rows. After each step the
    /// ranges the rank updated hold zero gradients (Adam zeroed them as it read them), and `zeroGradients`
    /// then leaves the whole buffer zero although it zeroes only the rest (and of the table only the
    /// touched rows, when Adam did not run).
    func testZeroingClearsEveryRowAStepWrote() throws {
        let batch = 4, t = 3
        for (ranks, tied, vocabParallel) in [(1, false, false), (2, false, false), (2, true, false), (2, false, true), (2, true, true)] {
            let cfg = ModelConfig(vocabSize: 50, embedding: 6, hidden: 6, layers: 1, cell: .lstm, dropout: 0, tieWeights: tied)
            let leftovers = try InProcessCommunicator.run(ranks: ranks) { comm -> [Int] in
                let store = LanguageModel.store(cfg, ranks: ranks, rank: comm.rank, vocabParallel: vocabParallel)
                if ranks == 2 && !tied { XCTAssertNotNil(store.touched, "an untied table on 2 ranks is exchanged sparsely") }
                let model = LanguageModel(config: cfg, store: store, batch: batch / ranks, maxT: t, chunkRows: 8, comm: comm)
                model.initialize(seed: 1)
                let step = TrainingStep(store: store, threads: .one, comm: comm, clip: 5)
                let carry = model.makeState()
                var nonzero = 0  // (a NaN counts)
                for s in 0..<4 {
                    // each rank its own tokens: the union is wider than either rank's rows
                    let x = (0..<(t * batch / ranks)).map { Int32((s * 7 + $0 * 3 + comm.rank * 11) % 50) }
                    let y = x.map { ($0 + 1) % 50 }
                    let r = try step.run(lr: 0.01, adamStep: s + 1, poison: s == 2) {
                        try model.trainStep(x: x, y: y, t: t, state: carry, dropout: DropoutKey(seed: 2, step: UInt64(s), firstColumn: 0))
                    }
                    // step 2 is not finite (poisoned): Adam does not run, and the zeroing is the whole one
                    XCTAssertEqual(r.finite, s != 2)
                    if r.finite {
                        for range in store.updated { nonzero += range.filter { store.grads[$0] != 0 }.count }
                    }
                    store.zeroGradients()
                    nonzero += (0..<store.grads.count).filter { store.grads[$0] != 0 }.count
                }
                return [nonzero]
            }
            XCTAssertEqual(leftovers, Array(repeating: [0], count: ranks), "\(ranks) ranks, tied \(tied), vocab-parallel \(vocabParallel)")
        }
    }
}
