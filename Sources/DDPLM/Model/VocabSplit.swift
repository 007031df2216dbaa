/// The decoder split by vocabulary rows over the ranks (`--vocab-parallel`): a [rows, width] weight and
/// its [rows] bias, the last two tensors of the layout, where rank r owns rows rows·r/N ..< rows·(r+1)/N.
/// The owner computes those rows' logits and gradients for every rank's tokens
/// (`VocabParallelDecoder`) and runs their Adam, so neither their gradient nor their weights travel.
struct VocabSplit: Sendable, Equatable {
    /// Store offsets of the weight and the bias.
    let weight: Int
    let bias: Int
    let rows: Int
    let width: Int
    let ranks: Int

    init(weight: Int, bias: Int, rows: Int, width: Int, ranks: Int) {
        precondition(bias == weight + rows * width && ranks >= 1 && rows >= ranks, "a vocab split needs the bias right after the weight and a row per rank")
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

    /// Everything the split covers (weight, then bias).
    var span: Range<Int> { weight..<bias + rows }
}
