import Foundation

/// The splits of a classification run, tokenised (`Tokenizer`) and encoded with one vocabulary built from
/// the training split: `<unk>`, `<pad>`, then the `maxVocab` most frequent training tokens. Labels are the
/// training split's, sorted; a validation or test document with another label is an error. Without a
/// validation file, `validFraction` of the training documents (a fixed pseudo-random choice) are held out.
public struct ClassificationCorpora {
    public let vocab: Vocabulary
    public let labels: [String]
    public let train: DocumentSet
    public let valid: DocumentSet
    public let test: DocumentSet?
    /// Seconds spent reading and tokenising.
    public let seconds: Double

    /// The seed of the held-out validation choice (fixed, so every run of the same data holds out the same
    /// documents).
    static let holdoutSeed: UInt64 = 1234

    public static func load(_ d: ClassifierRunConfig.DataConfig) throws -> ClassificationCorpora {
        let start = Date()
        let trainText = try LabelledText.read(d.train, role: "training")
        var trainTokens = trainText.texts.map { tokens($0, maxTokens: d.maxTokens) }
        var trainLabels = trainText.labels
        var validTokens: [[String]], validLabels: [String], validName: String
        if d.valid.isEmpty {
            let held = holdout(count: trainTokens.count, fraction: d.validFraction)
            guard held.count > 0 && held.count < trainTokens.count else {
                throw DDPLMError("training data '\(d.train)' has \(trainTokens.count) documents: too few to hold out a validation split (give --valid)")
            }
            let isHeld = Set(held)
            validTokens = held.map { trainTokens[$0] }
            validLabels = held.map { trainLabels[$0] }
            let kept = (0..<trainTokens.count).filter { !isHeld.contains($0) }
            trainTokens = kept.map { trainTokens[$0] }
            trainLabels = kept.map { trainLabels[$0] }
            validName = "the held-out \(Int((d.validFraction * 100).rounded()))% of '\(d.train)'"
        } else {
            let v = try LabelledText.read(d.valid, role: "validation")
            validTokens = v.texts.map { tokens($0, maxTokens: d.maxTokens) }
            validLabels = v.labels
            validName = "validation data '\(d.valid)'"
        }
        let labels = Array(Set(trainLabels)).sorted()
        guard labels.count >= 2 else {
            throw DDPLMError("training data '\(d.train)' has only the label '\(labels.first ?? "")'; a classifier needs at least two")
        }
        var counts: [String: Int] = [:]
        for doc in trainTokens { for t in doc { counts[t, default: 0] += 1 } }
        let vocab = try Vocabulary.build(counts: counts, maxSize: d.maxVocab)
        let train = try encode(trainTokens, trainLabels, vocab: vocab, labels: labels, name: "training data '\(d.train)'")
        let valid = try encode(validTokens, validLabels, vocab: vocab, labels: labels, name: validName)
        var test: DocumentSet?
        if !d.test.isEmpty {
            test = try load(d.test, role: "test", vocab: vocab, labels: labels, maxTokens: d.maxTokens)
        }
        return ClassificationCorpora(vocab: vocab, labels: labels, train: train, valid: valid, test: test,
                                     seconds: Date().timeIntervalSince(start))
    }

    /// One more labelled file or directory, encoded with a run's vocabulary and labels (eval).
    public static func load(_ path: String, role: String, vocab: Vocabulary, labels: [String], maxTokens: Int) throws -> DocumentSet {
        let t = try LabelledText.read(path, role: role)
        return try encode(t.texts.map { tokens($0, maxTokens: maxTokens) }, t.labels, vocab: vocab, labels: labels,
                          name: "\(role) data '\(path)'")
    }

    /// A document's tokens (`Tokenizer`), its first `maxTokens` when longer (0: all).
    static func tokens(_ text: String, maxTokens: Int) -> [String] {
        let all = Tokenizer.tokenize(text)
        return maxTokens > 0 && all.count > maxTokens ? Array(all.prefix(maxTokens)) : all
    }

    /// Indices of the held-out documents, ascending: the first ⌊fraction·n⌉ of a seeded shuffle.
    static func holdout(count n: Int, fraction: Double) -> [Int] {
        var order = Array(0..<n)
        var rng = SplitMix64(seed: holdoutSeed)
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        }
        return order.prefix(Int((Double(n) * fraction).rounded())).sorted()
    }

    static func encode(_ docs: [[String]], _ docLabels: [String], vocab: Vocabulary, labels: [String], name: String) throws -> DocumentSet {
        var index: [String: Int32] = [:]
        for (i, l) in labels.enumerated() { index[l] = Int32(i) }
        var set = DocumentSet()
        for (doc, label) in zip(docs, docLabels) {
            guard let y = index[label] else {
                throw DDPLMError("\(name) has the label '\(label)', which the training data does not have (labels: \(labels.joined(separator: ", ")))")
            }
            set.append(doc.map { vocab.id(exactly: $0) }, label: y)
        }
        return set
    }

    /// Ranks check they read the same data (and so built the same vocabulary).
    func verifySame(_ comm: Communicator) throws {
        var h = FNV1a64()
        h.add(vocab.hash)
        for s in [train, valid] + (test.map { [$0] } ?? []) {
            var v = s.hash
            withUnsafeBytes(of: &v) { h.add($0) }
        }
        try comm.verifySame(h.value, what: "the classification data (ranks read different files)")
    }
}
