import XCTest
@testable import DDPLM

/// `--overlap`: which setting overlaps the exchange for ranks on how many nodes, and the start-up line
/// that says what was chosen and why.
final class ExchangeOverlapTests: XCTestCase {
    func testAutoOverlapsOnlyAcrossNodes() {
        for nodes in [1, 2, 5] {
            XCTAssertEqual(ExchangeOverlap.auto.enabled(nodes: nodes), nodes > 1)
            XCTAssertTrue(ExchangeOverlap.on.enabled(nodes: nodes))
            XCTAssertFalse(ExchangeOverlap.off.enabled(nodes: nodes))
        }
    }

    func testStartUpLineSaysWhatRunsAndWhy() {
        XCTAssertNil(ExchangeOverlap.auto.describe(ranks: 1, nodes: 1, available: true))
        XCTAssertEqual(ExchangeOverlap.auto.describe(ranks: 2, nodes: 1, available: true),
                       "2 ranks on 1 node, exchange after the compute (one node: its copies would take the compute's cores; --overlap on to overlap)")
        XCTAssertEqual(ExchangeOverlap.auto.describe(ranks: 4, nodes: 2, available: true),
                       "4 ranks on 2 nodes, exchange overlapped with the compute (exchange thread)")
        XCTAssertEqual(ExchangeOverlap.on.describe(ranks: 2, nodes: 1, available: true),
                       "2 ranks on 1 node, exchange overlapped with the compute (exchange thread, --overlap on)")
        XCTAssertEqual(ExchangeOverlap.off.describe(ranks: 4, nodes: 4, available: true), "4 ranks on 4 nodes, exchange after the compute (--overlap off)")
        XCTAssertEqual(ExchangeOverlap.on.describe(ranks: 3, nodes: 3, available: false),
                       "3 ranks on 3 nodes, exchange after the compute (MPI offers no MPI_THREAD_MULTIPLE)")
    }

    /// In-process ranks are threads of one process: one node, so `auto` leaves the exchange after the compute.
    func testInProcessRanksAreOneNode() throws {
        let nodes = try InProcessCommunicator.run(ranks: 3) { comm in comm.nodes }
        XCTAssertEqual(nodes, [1, 1, 1])
        XCTAssertEqual(SingleProcessCommunicator().nodes, 1)
    }
}
