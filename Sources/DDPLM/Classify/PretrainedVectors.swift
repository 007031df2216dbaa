import Foundation
import Glibc

/// Pretrained word vectors in GloVe's text format (`glove.6B.100d.txt`: per line a word and its numbers,
/// separated by spaces). `load` copies the vector of every vocabulary word the file has into its
/// embedding row; `<unk>` and `<pad>` become zero; other words keep their N(0, 1) initialisation (what the
/// lecture does with torchtext's `unk_init=torch.Tensor.normal_`).
enum PretrainedVectors {
    /// Returns how many vocabulary words got a vector.
    static func load(_ path: String, vocab: Vocabulary, dim: Int, into table: UnsafeMutablePointer<Float>) throws -> Int {
        guard var bytes = FileManager.default.contents(atPath: path).map({ [UInt8]($0) }) else {
            throw DDPLMError("word vectors '\(path)' do not exist or cannot be read")
        }
        bytes.append(0)
        var found = 0
        var seen = [Bool](repeating: false, count: vocab.count)
        do {
            try bytes.withUnsafeMutableBufferPointer { buf in
                let base = buf.baseAddress!, end = buf.count - 1
                var lineStart = 0, lineNumber = 0
                let values = UnsafeMutablePointer<Float>.allocate(capacity: dim)
                defer { values.deallocate() }
                while lineStart < end {
                    lineNumber += 1
                    var lineEnd = lineStart
                    while lineEnd < end && base[lineEnd] != 0x0A { lineEnd += 1 }
                    var p = lineStart
                    while p < lineEnd && base[p] != 0x20 { p += 1 }
                    let wordEnd = p
                    var fields = 0
                    while p < lineEnd {
                        while p < lineEnd && base[p] == 0x20 { p += 1 }
                        if p >= lineEnd || base[p] == 0x0D { break }
                        var next: UnsafeMutablePointer<CChar>?
                        let start = UnsafeMutableRawPointer(base + p).assumingMemoryBound(to: CChar.self)
                        let v = strtof(start, &next)
                        let consumed = next.map { UnsafeMutableRawPointer($0) - UnsafeMutableRawPointer(base + p) } ?? 0
                        let stop = p + consumed
                        guard consumed > 0, stop <= lineEnd, stop == lineEnd || base[stop] == 0x20 || base[stop] == 0x0D, v.isFinite else {
                            throw DDPLMError("word vectors '\(path)' line \(lineNumber): field \(fields + 2) is not a number (expected GloVe's text format: a word and \(dim) numbers)")
                        }
                        if fields < dim { values[fields] = v }
                        fields += 1
                        p = stop
                    }
                    if wordEnd == lineStart && lineEnd > lineStart {
                        throw DDPLMError("word vectors '\(path)' line \(lineNumber) starts with a space (expected a word and \(dim) numbers)")
                    }
                    if lineEnd > lineStart {
                        guard fields == dim else {
                            throw DDPLMError("word vectors '\(path)' line \(lineNumber) has \(fields) numbers, but --emb is \(dim) (use vectors of that size, or set --emb \(fields))")
                        }
                        let word = String(decoding: UnsafeBufferPointer(start: base + lineStart, count: wordEnd - lineStart), as: UTF8.self)
                        let id = Int(vocab.id(exactly: word))
                        if id >= 2 && !seen[id] {
                            seen[id] = true
                            found += 1
                            (table + id * dim).update(from: values, count: dim)
                        }
                    }
                    lineStart = lineEnd + 1
                }
                if lineNumber == 0 { throw DDPLMError("word vectors '\(path)' are empty") }
            }
        }
        table.update(repeating: 0, count: 2 * dim)  // <unk> and <pad>
        return found
    }
}
