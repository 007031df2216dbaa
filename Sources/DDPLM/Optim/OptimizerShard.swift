/// One rank's slice of the optimizer: parameters [lo, hi) of the flat buffer's sharded region, which
/// starts at `base` (before it: the replicated sparse embedding, see `ParameterStore`). The region is
/// padded to `padded` = ranks · chunk floats so every rank's block has the same size (a multiple of 16),
/// which is what the reduce-scatter and all-gather exchange (from `base`).
struct OptimizerShard: Sendable, Equatable {
    let base: Int
    let chunk: Int
    let padded: Int
    let lo: Int
    let hi: Int

    /// `parameters` floats of the sharded region, starting at `base`.
    init(parameters p: Int, ranks n: Int, rank r: Int, base: Int = 0) {
        self.base = base
        chunk = ((p + n - 1) / n + 15) & ~15
        padded = chunk * n
        lo = base + min(p, r * chunk)
        hi = base + min(p, (r + 1) * chunk)
    }

    var count: Int { hi - lo }
}
