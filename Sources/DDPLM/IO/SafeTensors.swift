import Foundation

/// The safetensors format: 8-byte little-endian header length N, N bytes of UTF-8 JSON
/// `{"name": {"dtype", "shape", "data_offsets": [begin, end]}, …, "__metadata__": {str: str}}`, then the
/// byte buffer. The reader enforces what the reference implementation enforces — N ≤ 100 MB, JSON that
/// starts with `{`, no duplicate names, offsets contiguous from 0 that exactly cover the buffer, byte
/// lengths equal to shape × dtype size with overflow-checked products — so a hostile file gets an error,
/// never a trap, a huge allocation or an out-of-bounds read. Files ddplm writes also carry a checksum of
/// the buffer in the metadata (`ddplm.checksum`), verified when present.
public struct SafeTensors {
    public struct Entry: Equatable {
        public let name: String
        let dtype: String
        public let shape: [Int]
        let begin: Int
        let end: Int
    }

    static let maxHeader = 100_000_000
    static let checksumKey = "ddplm.checksum"
    static let dtypeSizes: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
        "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8,
    ]

    public let entries: [Entry]
    let metadata: [String: String]
    /// The whole file (memory-mapped when read from disk) and where its data buffer starts.
    let storage: Data
    let dataStart: Int

    /// Parses and validates a complete file image; `name` labels errors.
    init(bytes: Data, name: String = "safetensors file") throws {
        func bad(_ why: String) -> DDPLMError { DDPLMError("\(name) is not a valid safetensors file: \(why)") }
        guard bytes.count >= 8 else { throw bad("only \(bytes.count) bytes (truncated?)") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(bytes[bytes.startIndex + i]) << (8 * UInt64(i)) }
        guard n <= UInt64(SafeTensors.maxHeader) else { throw bad("header length \(n) exceeds 100 MB") }
        guard n <= UInt64(bytes.count - 8) else { throw bad("header length \(n) runs past the end of the file (\(bytes.count) bytes; truncated?)") }
        let hlen = Int(n)
        let dataStart = 8 + hlen
        let header: JSONValue = try bytes.withUnsafeBytes { raw in
            let h = UnsafeRawBufferPointer(rebasing: raw[8..<dataStart])
            guard h.first == UInt8(ascii: "{") else { throw bad("header does not start with '{'") }
            guard String(validating: h.bindMemory(to: UInt8.self), as: UTF8.self) != nil else { throw bad("header is not UTF-8") }
            do { return try JSONValue.parse(h) } catch let e as DDPLMError { throw bad(e.message) }
        }
        guard case .object(let members) = header else { throw bad("header is not a JSON object") }
        var entries: [Entry] = []
        var metadata: [String: String] = [:]
        for (key, value) in members {
            if key == "__metadata__" {
                guard case .object(let kv) = value else { throw bad("__metadata__ is not an object") }
                for (k, v) in kv {
                    guard case .string(let s) = v else { throw bad("__metadata__ value for '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            entries.append(try SafeTensors.entry(key, value, dataBytes: bytes.count - dataStart, bad: bad))
        }
        // offsets must tile [0, buffer length) exactly: no holes, no overlaps
        var cursor = 0
        for e in entries.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            guard e.begin == cursor else {
                throw bad(e.begin < cursor ? "entry '\(e.name)' overlaps another tensor" : "hole in the data before '\(e.name)'")
            }
            cursor = e.end
        }
        guard cursor == bytes.count - dataStart else {
            throw bad("data buffer is \(bytes.count - dataStart) bytes but the tensors cover \(cursor)")
        }
        if let sum = metadata[SafeTensors.checksumKey] {
            let actual = bytes.withUnsafeBytes { FNV1a64.hash(UnsafeRawBufferPointer(rebasing: $0[dataStart...])) }
            guard hex16(actual) == sum else { throw bad("checksum mismatch (file is corrupted)") }
        }
        self.entries = entries
        self.metadata = metadata
        self.storage = bytes
        self.dataStart = dataStart
    }

    /// One tensor's header entry, checked: a known dtype, a shape of at most 8 dimensions, offsets that
    /// hold exactly shape × dtype bytes inside the data buffer of `dataBytes` bytes.
    private static func entry(_ key: String, _ value: JSONValue, dataBytes: Int, bad: (String) -> DDPLMError) throws -> Entry {
        guard case .object(let fields) = value else { throw bad("entry '\(key)' is not an object") }
        var dtype: String?, shape: [Int]?, offsets: (UInt64, UInt64)?
        for (f, fv) in fields {
            switch f {
            case "dtype":
                guard case .string(let s) = fv, SafeTensors.dtypeSizes[s] != nil else { throw bad("entry '\(key)' has an unknown dtype") }
                dtype = s
            case "shape":
                guard case .array(let dims) = fv, dims.count <= 8 else { throw bad("entry '\(key)' has a bad shape") }
                var s: [Int] = []
                for d in dims {
                    guard let u = d.uint64, u <= UInt64(Int32.max) else { throw bad("entry '\(key)' has a bad dimension") }
                    s.append(Int(u))
                }
                shape = s
            case "data_offsets":
                guard case .array(let o) = fv, o.count == 2, let b = o[0].uint64, let e = o[1].uint64 else {
                    throw bad("entry '\(key)' has bad data_offsets")
                }
                offsets = (b, e)
            default:
                throw bad("entry '\(key)' has an unknown field '\(f)'")
            }
        }
        guard let dtype, let shape, let offsets else { throw bad("entry '\(key)' lacks dtype, shape or data_offsets") }
        guard offsets.0 <= offsets.1 else { throw bad("entry '\(key)' ends before it begins") }
        var bytesNeeded = UInt64(SafeTensors.dtypeSizes[dtype]!)
        for d in shape {
            let (p, o) = bytesNeeded.multipliedReportingOverflow(by: UInt64(d))
            if o { throw bad("entry '\(key)' size overflows") }
            bytesNeeded = p
        }
        guard offsets.1 - offsets.0 == bytesNeeded else {
            throw bad("entry '\(key)' has \(offsets.1 - offsets.0) bytes but shape \(shape) of \(dtype) needs \(bytesNeeded)")
        }
        let bufferLen = UInt64(dataBytes)
        guard offsets.1 <= bufferLen else { throw bad("entry '\(key)' runs past the end of the data (truncated?)") }
        return Entry(name: key, dtype: dtype, shape: shape, begin: Int(offsets.0), end: Int(offsets.1))
    }

    /// Reads a file from disk (memory-mapped).
    public static func read(path: String) throws -> SafeTensors {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
            throw DDPLMError("'\(path)' is missing")
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw DDPLMError("cannot read '\(path)': \(error.localizedDescription)")
        }
        return try SafeTensors(bytes: data, name: "'\(path)'")
    }

    public func entry(_ name: String) -> Entry? { entries.first { $0.name == name } }

    /// Copies float32 tensor `name` of exactly `shape` into `dst`.
    public func copyFloats(_ name: String, shape: [Int], into dst: UnsafeMutablePointer<Float>, file: String) throws {
        guard let e = entry(name) else { throw DDPLMError("\(file) has no tensor '\(name)'") }
        guard e.dtype == "F32" else { throw DDPLMError("\(file): tensor '\(name)' is \(e.dtype); ddplm reads F32 (float32) only") }
        guard e.shape == shape else { throw DDPLMError("\(file): tensor '\(name)' has shape \(e.shape) but the config needs \(shape)") }
        storage.withUnsafeBytes { raw in
            UnsafeMutableRawPointer(dst).copyMemory(from: raw.baseAddress! + dataStart + e.begin, byteCount: e.end - e.begin)
        }
    }

    /// A tensor to write: name, shape, and `shape.product` floats at `data`.
    struct Tensor {
        public let name: String
        public let shape: [Int]
        let data: UnsafePointer<Float>
        init(name: String, shape: [Int], data: UnsafePointer<Float>) {
            self.name = name
            self.shape = shape
            self.data = data
        }
    }

    /// The 8-byte length and the header (names in the given order, padded to 8 bytes) for `tensors`,
    /// whose data follows in the same order; the metadata records the data's checksum.
    static func header(_ tensors: [Tensor], metadata: [String: String]) -> [UInt8] {
        var offset = 0
        var fields: [String] = []
        var checksum = FNV1a64()
        for t in tensors {
            let bytes = t.shape.reduce(1, *) * 4
            fields.append("\(JSONValue.quote(t.name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
            checksum.add(UnsafeRawBufferPointer(start: t.data, count: bytes))
        }
        var meta = metadata
        meta["format"] = meta["format"] ?? "pt"
        meta[checksumKey] = checksum.hex
        let metaJSON = "\"__metadata__\":{" + meta.keys.sorted().map { "\(JSONValue.quote($0)):\(JSONValue.quote(meta[$0]!))" }.joined(separator: ",") + "}"
        var header = Array(("{" + ([metaJSON] + fields).joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var out: [UInt8] = []
        var n = UInt64(header.count)
        for _ in 0..<8 { out.append(UInt8(n & 0xff)); n >>= 8 }
        return out + header
    }

    /// Writes the file atomically, streaming each tensor from its own buffer: no file-sized copy in
    /// memory (latest.safetensors of the default model is 120 MB).
    static func write(_ tensors: [Tensor], metadata: [String: String] = [:], to path: String) throws {
        let head = header(tensors, metadata: metadata)
        try AtomicFile.write(to: path) { fd in
            try head.withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path: path) }
            for t in tensors {
                try AtomicFile.writeAll(fd, UnsafeRawBufferPointer(start: t.data, count: t.shape.reduce(1, *) * 4), path: path)
            }
        }
    }
}
