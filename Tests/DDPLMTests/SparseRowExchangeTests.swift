import XCTest
@testable import DDPLM

/// The sparse embedding-gradient exchange against the dense sum it replaces: exact values (every row's
/// sum over ranks, untouched rows zero), the same bits on every rank, and a NaN row still travels.
/// The rank counts cover each width of the packed marks' fields (2, 3 and 4 bits: 12, 8 and 6 rows per
/// float, 40 rows ending in a partly used float), with rows every rank touches (the largest count).
final class SparseRowExchangeTests: XCTestCase {
    func testSparseSumEqualsTheDenseSum() throws {
        let rows = 40, width = 6
        for n in [2, 3, 4, 7, 8] {
            // rank r touches rows ≡ r (mod 5), rows 7 and 8 are touched by everyone, row 30 by nobody
            @Sendable func grad(_ r: Int) -> [Float] {
                var rng = SplitMix64(seed: UInt64(r + 1))
                var g = [Float](repeating: 0, count: rows * width)
                for row in 0..<rows where row != 30 && (row % 5 == r % 5 || row == 7 || row == 8) {
                    for k in 0..<width { g[row * width + k] = rng.nextFloat() - 0.5 }
                }
                return g
            }
            let results = try InProcessCommunicator.run(ranks: n) { comm -> ([Float], Int, Double) in
                let x = SparseRowExchange(rows: rows, width: width, ranks: comm.size)
                var g = grad(comm.rank)
                try g.withUnsafeMutableBufferPointer { try x.sum($0.baseAddress!, comm: comm) }
                return (g, x.lastRows, x.unionSumOfSquares())
            }
            var dense = [Double](repeating: 0, count: rows * width)
            for r in 0..<n { for (i, v) in grad(r).enumerated() { dense[i] += Double(v) } }
            let union = (0..<rows).filter { row in (0..<n).contains { r in grad(r)[row * width] != 0 } }.count
            let sumsq = dense.reduce(0) { $0 + $1 * $1 }
            for (r, (g, touched, squares)) in results.enumerated() {
                XCTAssertEqual(squares, sumsq, accuracy: 1e-5 * sumsq, "the union's sum of squares on rank \(r) of \(n)")
                XCTAssertEqual(g, results[0].0, "rank \(r) of \(n) holds other bits than rank 0")
                XCTAssertEqual(touched, union, "rows in the union on \(n) ranks")
                for i in 0..<(rows * width) { XCTAssertEqual(Double(g[i]), dense[i], accuracy: 1e-6) }
                XCTAssertTrue(g[(30 * width)..<(31 * width)].allSatisfy { $0 == 0 })
            }
        }
    }

    func testANaNRowTravels() throws {
        let results = try InProcessCommunicator.run(ranks: 2) { comm -> [Float] in
            let x = SparseRowExchange(rows: 4, width: 2, ranks: 2)
            var g: [Float] = comm.rank == 1 ? [0, 0, .nan, 0, 0, 0, 0, 0] : [0, 0, 0, 0, 0, 0, 1, 1]
            try g.withUnsafeMutableBufferPointer { try x.sum($0.baseAddress!, comm: comm) }
            return g
        }
        for g in results {
            XCTAssertTrue(g[2].isNaN)
            XCTAssertEqual(Array(g[6...7]), [1, 1])
        }
    }
}
