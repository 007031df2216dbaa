import Glibc

/// Samples text from a model with batch 1.
public struct Generator {
    let model: LanguageModel
    let vocab: Vocabulary

    public init(model: LanguageModel, vocab: Vocabulary) {
        precondition(model.batch == 1)
        self.model = model
        self.vocab = vocab
    }

    /// Feeds the prompt (or a random start token), then emits `words` tokens sampled from
    /// softmax(logits / temperature), or the argmax when `greedy`. Unless `allowUnknown`, `<unk>` and
    /// `<pad>` are never emitted (their logits are masked before sampling).
    public func generate(words: Int, prompt: [String], temperature: Float, greedy: Bool, seed: UInt64,
                         allowUnknown: Bool = false) -> [String] {
        var rng = SplitMix64(seed: seed)
        let state = model.makeState()
        let v = vocab.count
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: v)
        defer { logits.deallocate() }
        var context = prompt.map { Int32(vocab.id(of: $0)) }
        if context.isEmpty { context = [Int32(2 + Int(rng.next() % UInt64(max(1, v - 2))))] }
        for tok in context {
            var t = tok
            model.nextLogits(tokens: &t, state: state, out: logits)
        }
        var out: [String] = []
        for _ in 0..<words {
            if !allowUnknown && v > 2 {
                logits[Vocabulary.unk] = -.infinity
                logits[Vocabulary.pad] = -.infinity
            }
            let next: Int
            if greedy {
                var best = 0
                for i in 1..<v where logits[i] > logits[best] { best = i }
                next = best
            } else {
                next = Generator.sample(logits, v, temperature: temperature, rng: &rng)
            }
            out.append(vocab.words[next])
            var token = Int32(next)
            model.nextLogits(tokens: &token, state: state, out: logits)
        }
        return out
    }

    /// Index drawn from softmax(logits / temperature).
    static func sample(_ logits: UnsafeMutablePointer<Float>, _ v: Int, temperature: Float, rng: inout SplitMix64) -> Int {
        var m = -Float.infinity
        for i in 0..<v { m = max(m, logits[i]) }
        var sum = 0.0
        for i in 0..<v {
            logits[i] = expf((logits[i] - m) / temperature)
            sum += Double(logits[i])
        }
        var r = rng.nextDouble() * sum
        for i in 0..<v {
            r -= Double(logits[i])
            if r < 0 { return i }
        }
        return v - 1
    }
}
