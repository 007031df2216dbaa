/// Mean cross-entropy of a language model over a whole corpus split, with a fresh hidden state and the
/// training batching (columns split over ranks). The one place a split's loss is computed: validation,
/// the final test and `ddplm eval` all call `meanLoss`.
public enum Evaluator {
    /// Summed cross-entropy and the number of predicted tokens over every window of `data`, for this
    /// rank's columns [firstColumn, firstColumn + model.batch).
    static func localSum(model: LanguageModel, data: Batcher, firstColumn: Int) throws -> (loss: Double, count: Int) {
        let b = model.batch
        let x = UnsafeMutablePointer<Int32>.allocate(capacity: data.bptt * b)
        let y = UnsafeMutablePointer<Int32>.allocate(capacity: data.bptt * b)
        defer { x.deallocate(); y.deallocate() }
        let state = model.makeState()
        var total = 0.0, count = 0
        for k in 0..<data.windowCount {
            let t = data.fill(window: k, firstColumn: firstColumn, columns: b, x: x, y: y)
            total += try model.evaluate(x: x, y: y, t: t, state: state)
            count += t * b
        }
        return (total, count)
    }

    /// Mean loss over the split and its token count, summed over every rank (a collective: all call it).
    public static func meanLoss(model: LanguageModel, data: Batcher, split: BatchSplit, comm: Communicator) throws -> (loss: Double, tokens: Int) {
        precondition(model.batch == split.columns)
        let (l, c) = try localSum(model: model, data: data, firstColumn: split.firstColumn)
        let s = try comm.allReduceSum([l, Double(c)])
        return (s[0] / s[1], Int(s[1]))
    }
}
