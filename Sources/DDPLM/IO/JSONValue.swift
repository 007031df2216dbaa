/// A strict, bounded JSON reader for untrusted headers (safetensors). Unlike JSONSerialization it
/// rejects duplicate keys, keeps integers exact (as their digits), limits nesting depth, and never
/// traps on malformed input. It also bounds what it builds — at most `maxNodes` values and arrays of
/// at most `maxArray` items — so a 100 MB hostile header cannot make it allocate gigabytes.
indirect enum JSONValue {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    /// A non-negative integer that fits in UInt64, or nil.
    var uint64: UInt64? {
        guard case .number(let s) = self, !s.isEmpty, s.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return UInt64(s)
    }

    static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 32, maxNodes: Int = 2_000_000,
                             maxArray: Int = 1024) throws -> JSONValue {
        var p = Parser(b: bytes, i: 0, maxDepth: maxDepth, maxNodes: maxNodes, maxArray: maxArray)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        if p.i != bytes.count { throw DDPLMError("trailing bytes after JSON at offset \(p.i)") }
        return v
    }

    struct Parser {
        let b: UnsafeRawBufferPointer
        var i: Int
        let maxDepth: Int
        let maxNodes: Int
        let maxArray: Int
        var nodes = 0

        func fail(_ what: String) -> DDPLMError { DDPLMError("invalid JSON: \(what) at offset \(i)") }

        mutating func skipSpace() {
            while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        }

        mutating func expect(_ c: UInt8) throws {
            guard i < b.count, b[i] == c else { throw fail("expected '\(Character(Unicode.Scalar(c)))'") }
            i += 1
        }

        mutating func value(depth: Int) throws -> JSONValue {
            guard depth < maxDepth else { throw fail("nesting too deep") }
            nodes += 1
            guard nodes <= maxNodes else { throw fail("more than \(maxNodes) values") }
            guard i < b.count else { throw fail("unexpected end") }
            switch b[i] {
            case UInt8(ascii: "{"):
                i += 1
                var members: [(String, JSONValue)] = []
                var seen = Set<String>()
                skipSpace()
                if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                while true {
                    skipSpace()
                    let k = try string()
                    if !seen.insert(k).inserted { throw fail("duplicate key '\(k)'") }
                    skipSpace()
                    try expect(UInt8(ascii: ":"))
                    skipSpace()
                    members.append((k, try value(depth: depth + 1)))
                    skipSpace()
                    guard i < b.count else { throw fail("unterminated object") }
                    if b[i] == UInt8(ascii: ",") { i += 1; continue }
                    try expect(UInt8(ascii: "}"))
                    return .object(members)
                }
            case UInt8(ascii: "["):
                i += 1
                var items: [JSONValue] = []
                skipSpace()
                if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    guard items.count <= maxArray else { throw fail("array longer than \(maxArray) items") }
                    skipSpace()
                    guard i < b.count else { throw fail("unterminated array") }
                    if b[i] == UInt8(ascii: ",") { i += 1; continue }
                    try expect(UInt8(ascii: "]"))
                    return .array(items)
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            default:
                return .number(try number())
            }
        }

        mutating func literal(_ s: String) throws {
            for c in s.utf8 {
                guard i < b.count, b[i] == c else { throw fail("bad literal") }
                i += 1
            }
        }

        mutating func number() throws -> String {
            let start = i
            if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
            var digits = 0
            while i < b.count, (b[i] >= 48 && b[i] <= 57) || b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: "e")
                    || b[i] == UInt8(ascii: "E") || b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                i += 1
                digits += 1
                if digits > 64 { throw fail("number too long") }
            }
            if digits == 0 { throw fail("unexpected character") }
            let s = String(decoding: UnsafeRawBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
            guard Double(s) != nil else { throw fail("bad number '\(s)'") }
            return s
        }

        mutating func hex4() throws -> UInt32 {
            guard i + 4 <= b.count else { throw fail("short \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = b[i]
                let d: UInt32
                switch c {
                case 48...57: d = UInt32(c - 48)
                case 65...70: d = UInt32(c - 55)
                case 97...102: d = UInt32(c - 87)
                default: throw fail("bad \\u escape")
                }
                v = v * 16 + d
                i += 1
            }
            return v
        }

        mutating func string() throws -> String {
            try expect(UInt8(ascii: "\""))
            var out: [UInt8] = []
            while true {
                guard i < b.count else { throw fail("unterminated string") }
                let c = b[i]
                i += 1
                if c == UInt8(ascii: "\"") { break }
                if c < 0x20 { throw fail("control character in string") }
                if c != UInt8(ascii: "\\") { out.append(c); continue }
                guard i < b.count else { throw fail("unterminated escape") }
                let e = b[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var u = try hex4()
                    if u >= 0xD800 && u < 0xDC00 {
                        try expect(UInt8(ascii: "\\"))
                        try expect(UInt8(ascii: "u"))
                        let lo = try hex4()
                        guard lo >= 0xDC00 && lo < 0xE000 else { throw fail("bad surrogate pair") }
                        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(u) else { throw fail("bad \\u code point") }
                    out.append(contentsOf: String(scalar).utf8)
                default: throw fail("bad escape")
                }
            }
            guard let s = String(validating: out, as: UTF8.self) else { throw fail("string is not UTF-8") }
            return s
        }
    }
}

extension JSONValue {
    /// Serialises a string with JSON escapes.
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format4: u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

extension String {
    init(format4 v: UInt32) {
        let h = String(v, radix: 16)
        self = "\\u" + String(repeating: "0", count: 4 - h.count) + h
    }
}
