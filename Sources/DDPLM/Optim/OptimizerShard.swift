/// One rank's slice of the optimizer: parameters [lo, hi) of the flat buffer. Buffers are padded to
/// `padded` = ranks · chunk floats so every rank's block has the same size (a multiple of 16), which is
/// what the reduce-scatter and all-gather exchange.
struct OptimizerShard: Sendable, Equatable {
    let chunk: Int
    let padded: Int
    let lo: Int
    let hi: Int

    init(parameters p: Int, ranks n: Int, rank r: Int) {
        chunk = ((p + n - 1) / n + 15) & ~15
        padded = chunk * n
        lo = min(p, r * chunk)
        hi = min(p, (r + 1) * chunk)
    }

    var count: Int { hi - lo }
}
