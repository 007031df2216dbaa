import XCTest
@testable import DDPLM

/// The embedding split by vocabulary rows (`VocabParallelEmbedding`, tied `--vocab-parallel`) on N
/// in-process ranks against `Embedding` in one process: every rank's lookups exactly, and each rank's
/// rows of the table's gradient (the other rows untouched).
final class VocabParallelEmbeddingTests: XCTestCase {
    func testMatchesTheWholeEmbedding() throws {
        let vocab = 23, width = 4, n = 7
        for ranks in [2, 3, 4] {
            var rng = SplitMix64(seed: UInt64(ranks))
            let table = (0..<vocab * width).map { _ in rng.nextFloat() - 0.5 }
            let ids = (0..<ranks * n).map { _ in Int32(rng.next() % UInt64(vocab)) }
            let dOut = (0..<ranks * n * width).map { _ in rng.nextFloat() - 0.5 }
            var wantOut = [Float](repeating: 0, count: ranks * n * width), wantGrad = [Float](repeating: 0, count: vocab * width)
            wantOut.withUnsafeMutableBufferPointer { Embedding.forward(ids: ids, n: ranks * n, table: table, dim: width, out: $0.baseAddress!) }
            wantGrad.withUnsafeMutableBufferPointer { Embedding.backward(ids: ids, n: ranks * n, dOut: dOut, dim: width, dTable: $0.baseAddress!) }
            let got = try InProcessCommunicator.run(ranks: ranks) { comm -> (out: [Float], grad: [Float]) in
                let split = VocabSplit(weight: 0, bias: vocab * width + 5, rows: vocab, width: width, ranks: comm.size)
                let emb = VocabParallelEmbedding(split: split, comm: comm, rows: n, clock: CollectiveClock())
                let r = comm.rank
                var out = [Float](repeating: .nan, count: n * width), grad = [Float](repeating: 0, count: vocab * width)
                try out.withUnsafeMutableBufferPointer {
                    try emb.forward(ids: Array(ids[r * n..<(r + 1) * n]), n: n, table: table, out: $0.baseAddress!)
                }
                try grad.withUnsafeMutableBufferPointer {
                    try emb.backward(n: n, dOut: Array(dOut[r * n * width..<(r + 1) * n * width]), dTable: $0.baseAddress!)
                }
                return (out, grad)
            }
            let owner = VocabSplit(weight: 0, bias: vocab * width + 5, rows: vocab, width: width, ranks: ranks)
            for r in 0..<ranks {
                XCTAssertEqual(got[r].out, Array(wantOut[r * n * width..<(r + 1) * n * width]), "\(ranks) ranks: rank \(r)'s lookups")
                for row in 0..<vocab {
                    let mine = owner.rows(of: r).contains(row)
                    for k in 0..<width {
                        XCTAssertEqual(got[r].grad[row * width + k], mine ? wantGrad[row * width + k] : 0, accuracy: 1e-6,
                                       "\(ranks) ranks: dTable[\(row)] on rank \(r)")
                    }
                }
            }
        }
    }
}
