/// How a ring splits floats over the ranks: equal blocks, each a whole number of 16-float groups (the
/// kernels' 64 bytes), the last block padded with zeros. The one formula of the float all-reduce
/// (`RingAllReduce`), the sparse rows' exchange and the optimizer shard's rounds.
enum RingBlock {
    /// Floats of each rank's block when `count` floats are split over `ranks`.
    static func floats(_ count: Int, ranks: Int) -> Int { ((count + ranks - 1) / ranks + 15) & ~15 }
}
