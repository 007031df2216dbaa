import Foundation

/// The three splits of a language-model corpus, tokenised with one vocabulary. Every rank reads and
/// tokenises them itself; `verifySame` then proves the job agrees.
public struct LanguageModelCorpora {
    public let vocab: Vocabulary
    let train: [Int32]
    let valid: [Int32]
    let test: [Int32]
    /// Hash of the normalised training text (a different file with the same ids still differs).
    let trainTextHash: UInt64
    /// Seconds spent reading and tokenising.
    let seconds: Double

    /// A new run: reads the corpora and builds the vocabulary from the training split.
    public static func build(_ data: RunConfig.DataConfig) throws -> LanguageModelCorpora {
        try load(data, vocab: nil)
    }

    /// A resumed run: reads the corpora with the run's vocabulary.
    public static func load(_ data: RunConfig.DataConfig, vocab: Vocabulary?) throws -> LanguageModelCorpora {
        let t0 = Date()
        let text = try Corpus.load(data.train, role: "training", hint: "run launch/get-text8 to fetch text8, or pass --train FILE")
        let v: Vocabulary, ids: [Int32]
        if let vocab {
            (v, ids) = (vocab, vocab.encode(text))
        } else {
            (v, ids) = Vocabulary.build(from: text, maxSize: data.maxVocab)
        }
        let valid = v.encode(try Corpus.load(data.valid, role: "validation", hint: "pass --valid FILE"))
        let test = v.encode(try Corpus.load(data.test, role: "test", hint: "pass --test FILE"))
        return LanguageModelCorpora(vocab: v, train: ids, valid: valid, test: test,
                                    trainTextHash: text.withUnsafeBytes { FNV1a64.hash($0) },
                                    seconds: Date().timeIntervalSince(t0))
    }

    /// Every rank must have read the same corpora (a shared filesystem, or identical copies).
    func verifySame(_ comm: Communicator) throws {
        func hash(_ ids: [Int32]) -> UInt64 { ids.withUnsafeBytes { FNV1a64.hash($0) } }
        try comm.verifySame(hash(train) ^ trainTextHash, what: "the training corpus (different files on different hosts?)")
        try comm.verifySame(hash(valid) ^ hash(test) &* 31, what: "the validation/test corpora")
    }
}
