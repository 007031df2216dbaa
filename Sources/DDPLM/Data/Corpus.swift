import Foundation

/// A corpus is a text file of whitespace-separated words. Reading it yields its bytes lower-cased and
/// validated (UTF-8, no binary), ready for `WordTable`-based tokenisation in a single pass.
public enum Corpus {
    /// Reads and normalises a corpus file. `role` ("training", "validation", …) names it in errors.
    public static func load(_ path: String, role: String, hint: String? = nil) throws -> [UInt8] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw DDPLMError("\(role) corpus '\(path)' does not exist" + (hint.map { "; \($0)" } ?? ""))
        }
        if isDir.boolValue { throw DDPLMError("\(role) corpus '\(path)' is a directory, not a text file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DDPLMError("\(role) corpus '\(path)' cannot be read (permissions?)")
        }
        let text = try normalise([UInt8](data), name: "\(role) corpus '\(path)'")
        if !text.contains(where: { !isSpace($0) }) {
            throw DDPLMError("\(role) corpus '\(path)' is empty (no words)")
        }
        return text
    }

    @inline(__always)
    static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || (c >= 0x09 && c <= 0x0D) }

    /// Lower-cases (ASCII in place; full Unicode when the file has non-ASCII text) and maps Unicode
    /// whitespace to spaces, so splitting on ASCII whitespace matches Python's `str.lower().split()`.
    static func normalise(_ bytes: [UInt8], name: String) throws -> [UInt8] {
        var out = bytes
        var ascii = true
        try out.withUnsafeMutableBufferPointer { buf in
            for i in 0..<buf.count {
                let c = buf[i]
                if c >= 0x41 && c <= 0x5A { buf[i] = c | 0x20 }
                else if c >= 0x80 { ascii = false }
                else if c == 0 || (c < 0x20 && !isSpace(c) && c != 0x1C && c != 0x1D && c != 0x1E && c != 0x1F) {
                    throw DDPLMError("\(name) looks binary (control byte 0x\(String(c, radix: 16)) at offset \(i)); expected plain text")
                }
            }
        }
        if ascii { return out }
        guard let s = String(validating: out, as: UTF8.self) else {
            throw DDPLMError("\(name) is not valid UTF-8 text")
        }
        var result: [UInt8] = []
        result.reserveCapacity(out.count)
        for scalar in s.lowercased().unicodeScalars {
            if scalar.properties.isWhitespace || (scalar.value >= 0x1C && scalar.value <= 0x1F) {
                result.append(0x20)
            } else {
                result.append(contentsOf: String(scalar).utf8)
            }
        }
        return result
    }

    /// Calls `body(start, length)` for each whitespace-separated word of `text`.
    @inline(__always)
    static func forEachWord(_ text: UnsafeBufferPointer<UInt8>, _ body: (Int, Int) throws -> Void) rethrows {
        let n = text.count
        var i = 0
        while i < n {
            while i < n && isSpace(text[i]) { i += 1 }
            let start = i
            while i < n && !isSpace(text[i]) { i += 1 }
            if i > start { try body(start, i - start) }
        }
    }
}
