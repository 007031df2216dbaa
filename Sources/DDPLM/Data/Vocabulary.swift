import Foundation

/// Token ids, torchtext `build_vocab` order: `<unk>` = 0, `<pad>` = 1, then the `maxSize` most frequent
/// training words, ties broken alphabetically (by code point). Unknown words map to `<unk>`.
/// On disk as `vocab.txt`: one token per line, line number = id.
public struct Vocabulary {
    static let unk = 0
    static let pad = 1
    static let specials = ["<unk>", "<pad>"]

    let words: [String]
    private let table: WordTable

    public var count: Int { words.count }

    init(words: [String]) throws {
        guard words.count >= 2, words[0] == "<unk>", words[1] == "<pad>" else {
            throw DDPLMError("vocabulary must start with <unk> and <pad>")
        }
        var t = WordTable(capacity: words.count)
        for (i, w) in words.enumerated() {
            if w.isEmpty || w.utf8.contains(where: { Corpus.isSpace($0) }) {
                throw DDPLMError("vocabulary entry \(i) is empty or contains whitespace")
            }
            if t.insert(w) != i { throw DDPLMError("vocabulary entry \(i) '\(w)' is a duplicate") }
        }
        self.words = words
        table = t
    }

    /// Builds the vocabulary from normalised training text and encodes that text, in one pass.
    static func build(from text: [UInt8], maxSize: Int) -> (Vocabulary, [Int32]) {
        var uniq = WordTable(capacity: 1 << 17)
        var counts: [Int] = []
        var stream: [Int32] = []
        stream.reserveCapacity(text.count / 5)
        text.withUnsafeBufferPointer { buf in
            Corpus.forEachWord(buf) { start, len in
                let u = uniq.insert(buf.baseAddress! + start, len)
                if u == counts.count { counts.append(0) }
                counts[u] += 1
                stream.append(Int32(u))
            }
        }
        let unkIdx = uniq.find("<unk>"), padIdx = uniq.find("<pad>")
        var order = (0..<uniq.count).filter { $0 != unkIdx && $0 != padIdx }
        order.sort { a, b in
            if counts[a] != counts[b] { return counts[a] > counts[b] }
            return uniq.word(a).lexicographicallyPrecedes(uniq.word(b))
        }
        let kept = order.prefix(max(0, maxSize))
        var idOf = [Int32](repeating: Int32(unk), count: uniq.count)
        if padIdx >= 0 { idOf[padIdx] = Int32(pad) }
        var words = specials
        for u in kept {
            idOf[u] = Int32(words.count)
            words.append(String(decoding: uniq.word(u), as: UTF8.self))
        }
        for i in 0..<stream.count { stream[i] = idOf[Int(stream[i])] }
        // The words came out of a WordTable, so they are unique and whitespace-free.
        return (try! Vocabulary(words: words), stream)
    }

    /// Encodes normalised text; unknown words become `<unk>`.
    public func encode(_ text: [UInt8]) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(text.count / 5)
        text.withUnsafeBufferPointer { buf in
            Corpus.forEachWord(buf) { start, len in
                let id = table.find(buf.baseAddress! + start, len)
                out.append(Int32(id < 0 ? Vocabulary.unk : id))
            }
        }
        return out
    }

    /// Id of a token exactly as given (the classifier's tokens are already normalised); `<unk>` if absent.
    func id(exactly token: String) -> Int32 {
        let i = table.find(token)
        return Int32(i < 0 ? Vocabulary.unk : i)
    }

    /// Most frequent first, ties by code point; `<unk>`, `<pad>` first. (`counts` need not hold them.)
    static func build(counts: [String: Int], maxSize: Int) throws -> Vocabulary {
        var order = counts.filter { !specials.contains($0.key) }.map { ($0.key, $0.value) }
        order.sort { a, b in a.1 != b.1 ? a.1 > b.1 : Array(a.0.utf8).lexicographicallyPrecedes(Array(b.0.utf8)) }
        return try Vocabulary(words: specials + order.prefix(max(0, maxSize)).map(\.0))
    }

    func id(of word: String) -> Int {
        let i = table.find(word.lowercased())
        return i < 0 ? Vocabulary.unk : i
    }

    var fileContents: String { words.joined(separator: "\n") + "\n" }

    /// Stable fingerprint of the id ↔ word mapping, recorded in config.json and checkpoints.
    public var hash: String {
        var h = FNV1a64()
        h.add(fileContents)
        return h.hex
    }

    public static func load(_ path: String) throws -> Vocabulary {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DDPLMError("vocabulary file '\(path)' is missing or unreadable")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DDPLMError("vocabulary file '\(path)' is not UTF-8 text")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        do { return try Vocabulary(words: lines) } catch let e as DDPLMError {
            throw DDPLMError("vocabulary file '\(path)': \(e.message)")
        }
    }
}
