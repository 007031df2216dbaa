/// How the overlapped exchange cuts the sharded region into segments: the same relative offsets
/// [a, b) of every rank's block, starting at tensor boundaries (a model's layers become final one by
/// one), merged when closer than `Limits.minimum` and cut into equal parts of at most
/// min(`Limits.cap`, max(`Limits.maximum`, chunk / `Limits.perBlock`)).
extension OverlappedExchange {
    /// Segment sizes in floats: tensor boundaries closer than `minimum` are merged, and a segment is cut
    /// into equal parts of at most min(`cap`, max(`maximum`, chunk / `perBlock`)). The cap is
    /// `maxExchangeSegmentBytes`, under the TCP eager limit the MPI communicator sets from it.
    struct Limits: Sendable {
        var minimum = 16_384
        var maximum = 65_536
        var perBlock = 8
        var cap = maxExchangeSegmentBytes / MemoryLayout<Float>.size
        static let standard = Limits()
    }

    /// Segment boundaries: tensor boundaries (relative to each block), merged and cut per `limits`.
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
