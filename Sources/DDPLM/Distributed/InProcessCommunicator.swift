import Foundation

/// N ranks as N threads of one process, for tests: `swift test` can run the data-parallel step (ring
/// reduce-scatter, sharded Adam, all-gather) and the whole training loop on 2–4 ranks without MPI.
/// Each collective publishes every rank's buffer pointer, then each rank reads what it needs between
/// barriers. Every sum is computed in the order the MPI communicator's collectives compute it (cmpi.c):
/// a block of the ring reduce-scatter starts from rank b+1's part and adds ranks b+2, …, b; the float
/// all-reduce is that ring plus the all-gather (`RingAllReduce`); the small double all-reduce adds ranks
/// 0, 1, … in order, as rank 0 does. So in-process ranks train the same bits as `mpirun` ranks.
final class InProcessCommunicator: Communicator {
    let rank: Int
    let group: Group

    final class Group: @unchecked Sendable {
        let size: Int
        let slots: UnsafeMutablePointer<UnsafeMutableRawPointer?>
        private let cond = NSCondition()
        private var arrived = 0
        private var generation = 0

        /// `allocateNodeShared`'s memory, freed with the group.
        var shared: [UnsafeMutableRawPointer] = []

        init(size: Int) {
            self.size = size
            slots = .allocate(capacity: size)
            slots.initialize(repeating: nil, count: size)
        }

        deinit {
            slots.deallocate()
            for p in shared { p.deallocate() }
        }

        func barrier() {
            cond.lock()
            let g = generation
            arrived += 1
            if arrived == size {
                arrived = 0
                generation += 1
                cond.broadcast()
            } else {
                while g == generation { cond.wait() }
            }
            cond.unlock()
        }
    }

    init(rank: Int, group: Group) {
        self.rank = rank
        self.group = group
    }

    var size: Int { group.size }
    var nodes: Int { 1 }

    /// Runs `body` on `ranks` threads, one communicator each, and returns their results in rank order.
    /// Rethrows the first error; a rank that throws must not leave the others inside a collective (tests
    /// use it for code that fails on every rank alike).
    static func run<T>(ranks: Int, _ body: @escaping @Sendable (InProcessCommunicator) throws -> T) throws -> [T] {
        let group = Group(size: ranks)
        let results = UnsafeMutablePointer<Result<T, Error>?>.allocate(capacity: ranks)
        results.initialize(repeating: nil, count: ranks)
        defer { results.deinitialize(count: ranks); results.deallocate() }
        let done = DispatchGroup()
        nonisolated(unsafe) let out = results
        for r in 0..<ranks {
            done.enter()
            let t = Thread {
                out[r] = Result { try body(InProcessCommunicator(rank: r, group: group)) }
                done.leave()
            }
            t.stackSize = 8 << 20
            t.start()
        }
        done.wait()
        return try (0..<ranks).map { try results[$0]!.get() }
    }

    private func publish(_ p: UnsafeMutableRawPointer) {
        group.slots[rank] = p
        group.barrier()
    }

    private func peer<T>(_ r: Int, _: T.Type) -> UnsafeMutablePointer<T> { group.slots[r]!.assumingMemoryBound(to: T.self) }

    /// Block `rank` (at rank·stride) summed as the ring sums it: rank+1's part, then + rank+2's, …, + rank's.
    private func ringSum(_ buffer: UnsafeMutablePointer<Float>, from lo: Int, count: Int) {
        let acc = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        defer { acc.deallocate() }
        acc.update(from: peer((rank + 1) % size, Float.self) + lo, count: count)
        if size > 1 {
            for k in 2...size {
                let p = peer((rank + k) % size, Float.self) + lo
                for i in 0..<count { acc[i] += p[i] }
            }
        }
        group.barrier()  // everyone has read every buffer
        (buffer + lo).update(from: acc, count: count)
        group.barrier()
    }

    private let allReduce = RingAllReduce()

    func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {
        try allReduce.sum(buffer, count: count, over: self)
    }

    /// Rank 0's values + rank 1's + … (cmpi_allreduce_sum_double's order for up to 64 values; MPI sums
    /// longer ones in its own order, which no caller of the trainer's step uses).
    func allReduceSum(_ buffer: UnsafeMutablePointer<Double>, count: Int) throws {
        publish(buffer)
        let acc = UnsafeMutablePointer<Double>.allocate(capacity: max(count, 1))
        defer { acc.deallocate() }
        acc.update(from: peer(0, Double.self), count: count)
        for r in 1..<size {
            let p = peer(r, Double.self)
            for i in 0..<count { acc[i] += p[i] }
        }
        group.barrier()  // everyone has read every buffer
        buffer.update(from: acc, count: count)
        group.barrier()
    }

    func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws {
        publish(buffer)
        if rank != root { buffer.copyMemory(from: group.slots[root]!, byteCount: bytes) }
        group.barrier()
    }

    /// Sums this rank's block (at rank·stride) over the ranks, in the ring's order.
    func reduceScatterSum(_ buffer: UnsafeMutablePointer<Float>, countPerRank: Int, stride: Int) throws {
        publish(buffer)
        ringSum(buffer, from: rank * stride, count: countPerRank)
    }

    /// The ring's arithmetic, computed by the owner: start from rank b+1's block, then for ranks b+2, …, b
    /// round the partial sum to bf16 and add it to that rank's block in fp32.
    func reduceScatterSumBF16(_ buffer: UnsafeMutablePointer<Float>, countPerRank: Int, stride: Int) throws {
        publish(buffer)
        let n = countPerRank, lo = rank * stride
        let acc = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1)), wire = UnsafeMutablePointer<UInt16>.allocate(capacity: max(n, 1))
        defer { acc.deallocate(); wire.deallocate() }
        acc.update(from: peer((rank + 1) % size, Float.self) + lo, count: n)
        if size > 1 {
            for k in 2...size {
                BFloat16.encode(acc, wire, count: n)
                acc.update(from: peer((rank + k) % size, Float.self) + lo, count: n)
                BFloat16.add(wire, into: acc, count: n)
            }
        }
        group.barrier()  // everyone has read every buffer
        (buffer + lo).update(from: acc, count: n)
        group.barrier()
    }

    /// A communicator over its own group: rank 0 makes the group and the others pick it up from rank 0's
    /// slot, so the channel's collectives never meet this one's.
    func makeExchangeChannel() -> ExchangeChannel? {
        let made = rank == 0 ? Group(size: size) : nil
        publish(made.map { Unmanaged.passUnretained($0).toOpaque() } ?? UnsafeMutableRawPointer(bitPattern: 1)!)
        let shared = Unmanaged<Group>.fromOpaque(group.slots[0]!).takeUnretainedValue()
        withExtendedLifetime(made) { group.barrier() }  // everyone holds the new group before rank 0 may drop it
        return InProcessCommunicator(rank: rank, group: shared)
    }

    func allGather(_ buffer: UnsafeMutablePointer<Float>, countPerRank: Int, stride: Int) throws {
        publish(buffer)
        for r in 0..<size where r != rank {
            (buffer + r * stride).update(from: peer(r, Float.self) + r * stride, count: countPerRank)
        }
        group.barrier()
    }

    func barrier() throws { group.barrier() }

    /// Threads share memory: rank 0 allocates, every rank gets its pointer (on more than one rank).
    func allocateNodeShared(bytes: Int) throws -> UnsafeMutableRawPointer? {
        guard size > 1 else { return nil }
        if rank == 0 {
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
            p.initializeMemory(as: UInt8.self, repeating: 0, count: max(bytes, 1))
            group.shared.append(p)
            publish(p)
        } else {
            publish(UnsafeMutableRawPointer(bitPattern: 1)!)
        }
        let p = group.slots[0]!
        group.barrier()  // everyone has read rank 0's slot
        return p
    }

    func abort(code: Int32) -> Never { fatalError("in-process rank \(rank) aborted the job with code \(code)") }
}
