/// What a model's backward tells the gradient exchange: which floats of the store's gradient buffer are
/// final for this step, so their reduce-scatter can start while the rest of the backward runs (PyTorch
/// DDP's bucket hooks). Reporting is optional and only moves the exchange earlier: whatever is never
/// reported is exchanged when the compute ends. Reporting a range that is still written to later in the
/// step would be wrong (`OverlappedExchange.verifyFinality` catches that in tests).
protocol GradientReadiness: AnyObject {
    /// Gradient floats `range` (flat store offsets) will not change again this step.
    func gradientsFinal(_ range: Range<Int>)
    /// The order in which to finish the rows of a [rows, width] tensor at store offset `offset` so that
    /// whole exchange segments become final soonest: row ranges covering 0..<rows once, each to be
    /// reported (`gradientsFinal`) as soon as it is done. Fixed for the run; callers cache it.
    func rowOrder(offset: Int, rows: Int, width: Int) -> [Range<Int>]
}
