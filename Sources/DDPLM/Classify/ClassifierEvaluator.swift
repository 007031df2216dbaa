/// Loss and accuracy of a classifier over a set of documents, shared out over the ranks: rank r takes
/// documents [r·n/N, (r+1)·n/N), runs them longest first in batches of the model's width, and the sums
/// meet in one all-reduce. The one place a split's accuracy is computed: validation, the final test and
/// `ddplm classify eval` all call it.
public enum ClassifierEvaluator {
    public struct Result {
        public var loss: Double
        public var accuracy: Double
        public var documents: Int
    }

    static func evaluate(model: TextClassifier, batch: DocumentBatch, docs: DocumentSet, comm: Communicator) throws -> Result {
        let share = DocumentBatcher.slice(count: docs.count, rank: comm.rank, ranks: comm.size)
        let order = docs.longestFirst(share.map { Int32($0) })
        var loss = 0.0, correct = 0
        try model.forwardInBatches(docs, order: order, batch: batch) { columns in
            let r = ClassifierLoss.apply(logits: model.logits.ptr, labels: batch.labels, b: columns.count,
                                         outputs: model.config.outputs, dLogits: nil, scale: 1)
            loss += r.loss
            correct += r.correct
        }
        let s = try comm.allReduceSum([loss, Double(correct), Double(share.count)])
        return Result(loss: s[0] / max(s[2], 1), accuracy: s[1] / max(s[2], 1), documents: Int(s[2]))
    }
}
