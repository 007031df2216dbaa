/// The decoder split by vocabulary rows over the ranks (`--vocab-parallel`): a [rows, width] weight and
/// its [rows] bias, where rank r owns rows rows·r/N ..< rows·(r+1)/N. The bias is the layout's last
/// tensor; the weight is either right before it (untied) or, tied, the embedding table at the layout's
/// front. The owner computes those rows' logits and gradients for every rank's tokens
/// (`VocabParallelDecoder`, and tied also their lookups: `VocabParallelEmbedding`) and runs their Adam,
/// so neither their gradient nor their weights travel.
struct VocabSplit: Sendable, Equatable {
    /// Store offsets of the weight and the bias.
    let weight: Int
    let bias: Int
    let rows: Int
    let width: Int
    let ranks: Int

    init(weight: Int, bias: Int, rows: Int, width: Int, ranks: Int) {
        precondition((bias == weight + rows * width || weight + rows * width <= bias) && ranks >= 1 && rows >= ranks,
                     "a vocab split needs the weight before the bias and a row per rank")
        self.weight = weight
        self.bias = bias
        self.rows = rows
        self.width = width
        self.ranks = ranks
    }

    /// The vocabulary rows rank r owns.
    func rows(of r: Int) -> Range<Int> { rows * r / ranks..<rows * (r + 1) / ranks }

    /// Store ranges of rank r's weight rows and bias entries.
    func weightRange(of r: Int) -> Range<Int> { let v = rows(of: r); return weight + v.lowerBound * width..<weight + v.upperBound * width }
    func biasRange(of r: Int) -> Range<Int> { let v = rows(of: r); return bias + v.lowerBound..<bias + v.upperBound }

    /// Everything the split covers: the weight, then the bias (one range when they are adjacent).
    var spans: [Range<Int>] {
        weight + rows * width == bias ? [weight..<bias + rows] : [weight..<weight + rows * width, bias..<bias + rows]
    }
    /// Whether the weight sits apart at the layout's front (tied to the embedding).
    var weightAtFront: Bool { weight + rows * width != bias }
}
