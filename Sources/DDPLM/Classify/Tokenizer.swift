/// The classifier's English tokeniser: simple, documented and deterministic, so that
/// `launch/torch-classify.py` reproduces it exactly (the lecture used spaCy):
///  1. every `<br>`, `<br/>`, `<br />` (any case, any spaces before the slash) becomes a space;
///  2. ASCII A–Z are lower-cased (other characters are left as they are);
///  3. the text is split on whitespace; inside each piece a run of letters and digits (Unicode) is a word,
///     an apostrophe between two such characters stays inside the word, and every other character is a
///     token of its own;
///  4. a word ending in "n't" splits into its stem and "n't", one ending in "'s" into its stem and "'s".
/// "I didn't like the movie's end!<br />" → i did n't like the movie 's end !
public enum Tokenizer {
    public static func tokenize(_ text: String) -> [String] {
        var out: [String] = []
        var word = String.UnicodeScalarView()
        func flushWord() {
            guard !word.isEmpty else { return }
            let w = String(word)
            word.removeAll(keepingCapacity: true)
            if w.count > 3 && w.hasSuffix("n't") {
                out.append(String(w.dropLast(3)))
                out.append("n't")
            } else if w.count > 2 && w.hasSuffix("'s") {
                out.append(String(w.dropLast(2)))
                out.append("'s")
            } else {
                out.append(w)
            }
        }
        let scalars = Array(removingLineBreakTags(text).unicodeScalars)
        var i = 0
        while i < scalars.count {
            var c = scalars[i]
            if c.value >= 0x41 && c.value <= 0x5A { c = Unicode.Scalar(c.value | 0x20)! }
            if isWordCharacter(c) {
                word.append(c)
            } else if isSpace(c) {
                flushWord()
            } else if c == "'" && !word.isEmpty && i + 1 < scalars.count && isWordCharacter(scalars[i + 1]) {
                word.append(c)
            } else {
                flushWord()
                out.append(String(Character(c)))
            }
            i += 1
        }
        flushWord()
        return out
    }

    /// Letters (Unicode categories L*) and characters with a numeric value: Python's `str.isalnum` for one
    /// code point.
    @inline(__always)
    static func isWordCharacter(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x80 {
            let v = c.value
            return (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A)
        }
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return true
        default:
            return c.properties.numericType != nil
        }
    }

    /// Python's `str.isspace` (what `str.split()` splits on): Unicode White_Space plus U+001C–001F.
    @inline(__always)
    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        (c.value >= 0x1C && c.value <= 0x1F) || c.properties.isWhitespace
    }

    /// Replaces the HTML line breaks IMDB reviews are full of by spaces.
    static func removingLineBreakTags(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "<")) else { return text }
        let b = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = 0
        func lower(_ x: UInt8) -> UInt8 { x >= 0x41 && x <= 0x5A ? x | 0x20 : x }
        while i < b.count {
            if b[i] == UInt8(ascii: "<"), i + 2 < b.count, lower(b[i + 1]) == UInt8(ascii: "b"), lower(b[i + 2]) == UInt8(ascii: "r") {
                var j = i + 3
                while j < b.count, b[j] == 0x20 || (b[j] >= 0x09 && b[j] <= 0x0D) { j += 1 }
                if j < b.count, b[j] == UInt8(ascii: "/") { j += 1 }
                if j < b.count, b[j] == UInt8(ascii: ">") {
                    out.append(0x20)
                    i = j + 1
                    continue
                }
            }
            out.append(b[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
