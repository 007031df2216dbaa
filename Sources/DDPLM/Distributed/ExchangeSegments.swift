/// How the overlapped exchange cuts the sharded region into segments: within each round of the
/// `OptimizerShard`, the same relative offsets [a, b) of every rank's piece, starting at tensor
/// boundaries (a model's layers become final one by one), merged when closer than `Limits.minimum` and
/// cut into equal parts of at most min(`Limits.cap`, max(`Limits.maximum`, piece / `Limits.perBlock`)).
extension OverlappedExchange {
    /// Segment sizes in floats: tensor boundaries closer than `minimum` are merged, and a segment is cut
    /// into equal parts of at most min(`cap`, max(`maximum`, piece / `perBlock`)). The cap is
    /// `maxExchangeSegmentBytes`, under the TCP eager limit the MPI communicator sets from it.
    struct Limits: Sendable {
        var minimum = 16_384
        var maximum = 65_536
        var perBlock = 8
        var cap = maxExchangeSegmentBytes / MemoryLayout<Float>.size
        static let standard = Limits()
    }

    /// One ring of the exchange: `length` floats of each rank's piece, rank r's from `start + r · stride`.
    struct Segment: Sendable, Equatable {
        let start: Int
        let length: Int
        let stride: Int
        /// Rank `r`'s part.
        func span(_ r: Int) -> Range<Int> { start + r * stride..<start + r * stride + length }
    }

    /// The segments of every round, in ascending order of the region.
    static func plan(shard: OptimizerShard, ranks: Int, cuts: [Int], limits: Limits = .standard) -> [Segment] {
        shard.rounds.flatMap { round in
            let b = plan(base: round.start, chunk: round.chunk, ranks: ranks, cuts: cuts, limits: limits)
            return (1..<b.count).map { Segment(start: round.start + b[$0 - 1], length: b[$0] - b[$0 - 1], stride: round.chunk) }
        }
    }

    /// Segment boundaries within one round (`ranks` pieces of `chunk` floats from `base`): tensor
    /// boundaries (relative to each piece), merged and cut per `limits`.
    static func plan(base: Int, chunk: Int, ranks: Int, cuts: [Int], limits: Limits = .standard) -> [Int] {
        var points: [Int] = []
        for c in cuts {
            for r in 0..<ranks {
                let rel = c - base - r * chunk
                if rel > 0 && rel < chunk { points.append(rel) }
            }
        }
        points.sort()
        let minimum = max(1, limits.minimum), maximum = min(max(1, limits.cap), max(1, limits.maximum, chunk / max(1, limits.perBlock)))
        var kept = [0]
        for p in points where p - kept.last! >= minimum && chunk - p >= minimum { kept.append(p) }
        kept.append(chunk)
        var bounds = [0]
        for k in 1..<kept.count {
            let lo = kept[k - 1], len = kept[k] - lo
            let parts = max(1, (len + maximum - 1) / maximum)
            for j in 1...parts { bounds.append(lo + len * j / parts) }
        }
        return bounds
    }
}
