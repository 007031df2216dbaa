/// One rank's slice of the optimizer (ZeRO-1) of the flat buffer's sharded region, which starts at `base`
/// (before it: the replicated sparse embedding, see `ParameterStore`).
///
/// The region is dealt out cyclically: it is cut into `rounds`, each a contiguous range of N pieces of
/// the round's `chunk` floats (a multiple of 16), and rank r owns the r-th piece of every round. Every
/// round but the last has pieces of `piece` floats; the last is padded so that its N pieces are equal.
/// Each round is a ring of its own in the reduce-scatter and the all-gather. A model's gradients become
/// final from its last layer to its first and its forward reads the weights from the first, so a round
/// covering one layer can be reduced while the layers before it are still in the backward, and gathered
/// while the layers before it run the next forward (`OverlappedExchange`). With contiguous blocks,
/// every rank's block would hold a different layer and no block would be whole until the backward ends.
///
/// `standardPiece` is the one rule for the piece size: it fixes which rank sums which floats, in which
/// order, so it is the same in every mode (overlapped or not, node-shared or not).
struct OptimizerShard: Sendable, Equatable {
    /// N pieces of `chunk` floats from `start`, rank r's the r-th.
    struct Round: Sendable, Equatable {
        let start: Int
        let chunk: Int
        /// Rank `r`'s piece.
        func piece(_ r: Int) -> Range<Int> { start + r * chunk..<start + (r + 1) * chunk }
    }

    let base: Int
    /// Floats of each rank's piece of every round but the last.
    let piece: Int
    let rounds: [Round]
    /// The region's floats with padding: the sum of the rounds' N pieces.
    let padded: Int
    /// This rank's pieces, up to the region's parameters (the padding after them left out), ascending.
    let owned: [Range<Int>]

    /// Rounds the standard piece aims at, and the smallest standard piece (in floats).
    static let targetRounds = 16
    static let minimumPiece = 16_384

    /// The standard piece for `p` floats on `n` ranks: about a `targetRounds`-th of each rank's share, at
    /// least `minimumPiece` floats (a small region is one round: contiguous blocks); the whole share on
    /// one rank.
    static func standardPiece(parameters p: Int, ranks n: Int) -> Int {
        let share = RingBlock.floats(p, ranks: n)
        guard n > 1 else { return max(16, share) }
        return max(16, min(share, max(minimumPiece, RingBlock.floats(p, ranks: n * targetRounds))))
    }

    /// `parameters` floats of the sharded region from `base`; `piece` (a multiple of 16) for every round
    /// but the last, `standardPiece` unless given.
    init(parameters p: Int, ranks n: Int, rank r: Int, base: Int = 0, piece: Int? = nil) {
        let c = piece ?? OptimizerShard.standardPiece(parameters: p, ranks: n)
        precondition(c > 0 && c % 16 == 0, "an optimizer piece is a positive multiple of 16 floats")
        self.base = base
        self.piece = c
        let full = max(0, (p - 1) / (n * c))  // rounds before the last
        var rounds: [Round] = (0..<full).map { Round(start: base + $0 * n * c, chunk: c) }
        let rest = p - full * n * c
        rounds.append(Round(start: base + full * n * c, chunk: max(16, RingBlock.floats(rest, ranks: n))))
        self.rounds = rounds
        padded = full * n * c + n * rounds.last!.chunk
        owned = rounds.compactMap { round in
            let mine = round.piece(r), end = base + p
            return mine.lowerBound < end ? mine.lowerBound..<min(mine.upperBound, end) : nil
        }
    }

    /// Parameters this rank updates.
    var count: Int { owned.reduce(0) { $0 + $1.count } }
    /// Floats of each rank's pieces together (padding included): what each rank receives in the
    /// reduce-scatter.
    var perRank: Int { rounds.reduce(0) { $0 + $1.chunk } }
}
