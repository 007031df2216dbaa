import XCTest
import Dispatch
import CKernels
@testable import DDPLM

/// ddplm's fork-join pool (`ddplm_parallel`, Sources/CKernels/thread_pool.c): every part of a job runs
/// exactly once before the call returns, for any part count, also when several threads call it at once
/// (the in-process ranks of the tests do: a caller that finds the pool busy runs its parts inline).
final class ThreadPoolTests: XCTestCase {
    func testEveryPartRunsExactlyOnceAlsoWithConcurrentCallers() {
        let callers = 4, rounds = 200, maxParts = 9
        let slots = UnsafeMutablePointer<Int>.allocate(capacity: callers * maxParts)
        slots.initialize(repeating: 0, count: callers * maxParts)
        defer { slots.deallocate() }
        let base = UInt(bitPattern: slots)
        DispatchQueue.concurrentPerform(iterations: callers) { caller in
            let mine = UnsafeMutablePointer<Int>(bitPattern: base)! + caller * maxParts
            for round in 0..<rounds {
                let parts = 1 + round % maxParts
                ddplm_parallel(parts, { ctx, part in
                    ctx!.assumingMemoryBound(to: Int.self)[part] += 1
                }, mine)
            }
        }
        for caller in 0..<callers {
            for part in 0..<maxParts {
                // part p runs in every round with more than p parts
                let expected = (0..<rounds).filter { 1 + $0 % maxParts > part }.count
                XCTAssertEqual(slots[caller * maxParts + part], expected, "caller \(caller), part \(part)")
            }
        }
    }
}
