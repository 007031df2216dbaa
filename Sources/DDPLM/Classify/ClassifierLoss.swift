import Glibc

/// The classifier's loss on its logits [b, outputs]. One output: binary cross-entropy with logits
/// (`BCEWithLogitsLoss`; class 1 is the positive one, predicted when the logit is > 0). K outputs: softmax
/// cross-entropy (`CrossEntropyLoss`; the prediction is the first largest logit).
enum ClassifierLoss {
    /// Sum of the b losses and the number predicted right. With `dLogits`, writes scale · ∂loss_j/∂logits_j.
    static func apply(logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, b: Int, outputs: Int,
                      dLogits: UnsafeMutablePointer<Float>?, scale: Float) -> (loss: Double, correct: Int) {
        var loss = 0.0, correct = 0
        for j in 0..<b {
            let z = logits + j * outputs, y = Int(labels[j])
            if outputs == 1 {
                let v = Double(z[0]), target = Double(y)
                // max(z, 0) − z·y + log(1 + e^−|z|)
                loss += max(v, 0) - v * target + log1p(exp(-abs(v)))
                if (v > 0) == (y == 1) { correct += 1 }
                if let dLogits { dLogits[j] = Float(1 / (1 + exp(-v)) - target) * scale }
            } else {
                var m = z[0], best = 0
                for k in 1..<outputs where z[k] > m { m = z[k]; best = k }
                var sum = 0.0
                for k in 0..<outputs { sum += exp(Double(z[k] - m)) }
                loss += log(sum) - Double(z[y] - m)
                if best == y { correct += 1 }
                if let dLogits {
                    let d = dLogits + j * outputs
                    for k in 0..<outputs { d[k] = Float(exp(Double(z[k] - m)) / sum - (k == y ? 1 : 0)) * scale }
                }
            }
        }
        return (loss, correct)
    }

    /// The predicted class and the model's probability of it, for row j.
    static func predict(logits: UnsafePointer<Float>, row j: Int, outputs: Int) -> (label: Int, probability: Double) {
        let z = logits + j * outputs
        if outputs == 1 {
            let p = 1 / (1 + exp(-Double(z[0])))
            return p > 0.5 ? (1, p) : (0, 1 - p)
        }
        var m = z[0], best = 0
        for k in 1..<outputs where z[k] > m { m = z[k]; best = k }
        var sum = 0.0
        for k in 0..<outputs { sum += exp(Double(z[k] - m)) }
        return (best, 1 / sum)
    }
}
