import XCTest
@testable import DDPLM
import Foundation

final class SafeTensorsTests: XCTestCase {
    /// The bytes `SafeTensors.write` puts in a file for two small tensors.
    func sample() -> [UInt8] {
        let a: [Float] = [1, 2, 3, 4, 5, 6], b: [Float] = [-1.5, 0.25]
        let path = NSTemporaryDirectory() + "ddplm-st-\(getpid())-\(UUID().uuidString.prefix(8)).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try! a.withUnsafeBufferPointer { ap in try b.withUnsafeBufferPointer { bp in
            try SafeTensors.write([.init(name: "w", shape: [2, 3], data: ap.baseAddress!), .init(name: "b", shape: [2], data: bp.baseAddress!)],
                                  metadata: ["k": "v"], to: path)
        } }
        return Array(FileManager.default.contents(atPath: path)!)
    }

    /// A file image with a hand-written header and `data` bytes.
    func image(_ header: String, dataBytes: Int) -> Data {
        var h = Array(header.utf8)
        var out = [UInt8]()
        var n = UInt64(h.count)
        for _ in 0..<8 { out.append(UInt8(n & 0xff)); n >>= 8 }
        out += h
        h = [UInt8](repeating: 0, count: dataBytes)
        return Data(out + h)
    }

    func testRoundTripIsExact() throws {
        let f = try SafeTensors(bytes: Data(sample()))
        XCTAssertEqual(f.entries.map(\.name), ["w", "b"])
        XCTAssertEqual(f.metadata["k"], "v")
        XCTAssertEqual(f.metadata["format"], "pt")
        var w = [Float](repeating: 0, count: 6)
        try f.copyFloats("w", shape: [2, 3], into: &w, file: "f")
        XCTAssertEqual(w, [1, 2, 3, 4, 5, 6])
        XCTAssertThrowsError(try f.copyFloats("w", shape: [3, 2], into: &w, file: "f")) { e in
            XCTAssertTrue("\(e)".contains("shape [2, 3]"), "\(e)")
        }
        XCTAssertThrowsError(try f.copyFloats("nope", shape: [1], into: &w, file: "f"))
    }

    func testJSONReaderBoundsWhatItBuilds() {
        let text = Array(("{" + (0..<300).map { "\"k\($0)\":[[1]]" }.joined(separator: ",") + "}").utf8)
        XCTAssertNoThrow(try text.withUnsafeBytes { try JSONValue.parse($0, maxNodes: 1000) })
        XCTAssertThrowsError(try text.withUnsafeBytes { try JSONValue.parse($0, maxNodes: 500) }) { e in
            XCTAssertTrue("\(e)".contains("more than 500 values"), "\(e)")
        }
        let deep = Array((String(repeating: "[", count: 100) + String(repeating: "]", count: 100)).utf8)
        XCTAssertThrowsError(try deep.withUnsafeBytes { try JSONValue.parse($0) }) { e in XCTAssertTrue("\(e)".contains("too deep")) }
    }

    func testWrongDtypeIsRefusedWhenLoading() throws {
        let f = try SafeTensors(bytes: image("{\"w\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", dataBytes: 4))
        var w = [Float](repeating: 0, count: 2)
        XCTAssertThrowsError(try f.copyFloats("w", shape: [2], into: &w, file: "f")) { e in
            XCTAssertTrue("\(e)".contains("is F16; ddplm reads F32"), "\(e)")
        }
    }

    func testHeaderIsPaddedAndParsesAsJSON() throws {
        let bytes = sample()
        var n = 0
        for i in 0..<8 { n |= Int(bytes[i]) << (8 * i) }
        XCTAssertEqual(n % 8, 0)
        let header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any]
        XCTAssertNotNil(header?["w"])
    }

    func testTruncatedAndCorruptedFilesAreErrors() {
        let bytes = sample()
        for cut in [0, 4, 8, 20, bytes.count - 1] {
            XCTAssertThrowsError(try SafeTensors(bytes: Data(bytes[0..<cut])), "cut at \(cut)")
        }
        var flipped = bytes
        flipped[flipped.count - 3] ^= 0x10
        XCTAssertThrowsError(try SafeTensors(bytes: Data(flipped))) { e in XCTAssertTrue("\(e)".contains("checksum"), "\(e)") }
    }

    func testHostileHeadersAreRejectedWithReasons() {
        let cases: [(String, Int, String)] = [
            ("[1,2]", 0, "start with '{'"),
            ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "duplicate"),
            ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlaps"),
            ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "hole"),
            ("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12"),
            ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 16, "cover 8"),
            ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8000000000]}}", 8, "bytes but shape"),
            ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647],\"data_offsets\":[0,8]}}", 8, "overflows"),
            ("{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype"),
            ("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "bad dimension"),
            ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "ends before"),
            ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "lacks"),
            ("{\"a\":", 0, "invalid JSON"),
            ("{\"__metadata__\":{\"x\":1}}", 0, "not a string"),
            ("{\"a\":[" + Array(repeating: "0", count: 5000).joined(separator: ",") + "]}", 0, "array longer than"),
        ]
        for (header, dataBytes, reason) in cases {
            XCTAssertThrowsError(try SafeTensors(bytes: image(header, dataBytes: dataBytes)), header) { e in
                XCTAssertTrue("\(e)".contains(reason), "\(header): \(e)")
            }
        }
        // a header length far beyond the file or beyond 100 MB
        var huge = [UInt8](repeating: 0xff, count: 8) + Array("{}".utf8)
        XCTAssertThrowsError(try SafeTensors(bytes: Data(huge))) { e in XCTAssertTrue("\(e)".contains("100 MB")) }
        huge = [0, 0, 0, 1, 0, 0, 0, 0] + Array("{}".utf8)
        XCTAssertThrowsError(try SafeTensors(bytes: Data(huge))) { e in XCTAssertTrue("\(e)".contains("past the end")) }
        // non-UTF-8 header
        var bad = image("{\"\u{00e9}\":1}", dataBytes: 0)
        bad[10] = 0xff
        XCTAssertThrowsError(try SafeTensors(bytes: bad)) { e in XCTAssertTrue("\(e)".contains("UTF-8")) }
    }

    /// Thousands of mutated files (bit flips, byte stores, truncations, header-length edits, splices),
    /// deterministic seed: each must parse or be rejected with a DDPLMError — never a crash.
    func testFuzzedFilesNeverCrash() throws {
        let base = sample()
        var rng = SplitMix64(seed: 2024)
        var rejected = 0, accepted = 0
        let cases = 4000
        for _ in 0..<cases {
            var b = base
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                switch rng.next() % 6 {
                case 0: let i = Int(rng.next() % UInt64(b.count)); b[i] ^= UInt8(1 << (rng.next() % 8))
                case 1: let i = Int(rng.next() % UInt64(b.count)); b[i] = UInt8(truncatingIfNeeded: rng.next())
                case 2: b = Array(b.prefix(Int(rng.next() % UInt64(b.count + 1))))
                case 3: if b.count >= 8 { let i = Int(rng.next() % 8); b[i] = UInt8(truncatingIfNeeded: rng.next()) }
                case 4: // flip a byte inside the JSON header specifically
                    if b.count > 16 { let i = 8 + Int(rng.next() % UInt64(min(b.count - 8, 200))); b[i] = UInt8(32 + rng.next() % 95) }
                default: b += b.prefix(Int(rng.next() % 16))
                }
                if b.isEmpty { break }
            }
            do {
                _ = try SafeTensors(bytes: Data(b))
                accepted += 1
            } catch is DDPLMError {
                rejected += 1
            }
        }
        XCTAssertEqual(accepted + rejected, cases)
        XCTAssertGreaterThan(rejected, cases * 9 / 10)
        print("safetensors fuzz: \(cases) mutated files, \(rejected) rejected with an error, \(accepted) still valid")
    }

    func testAtomicWriteReplacesAndLeavesNoTempFiles() throws {
        let dir = NSTemporaryDirectory() + "ddplm-atomic-\(getpid())"
        try AtomicFile.makeDirectory(dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try AtomicFile.write("one", to: dir + "/f")
        try AtomicFile.write("two", to: dir + "/f")
        XCTAssertEqual(try String(contentsOfFile: dir + "/f", encoding: .utf8), "two")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["f"])
        XCTAssertThrowsError(try AtomicFile.write("x", to: dir + "/no/such/dir/f")) { e in
            XCTAssertTrue("\(e)".contains("No such file"), "\(e)")
        }
        XCTAssertEqual(try String(contentsOfFile: dir + "/f", encoding: .utf8), "two")
    }

    /// The checksum of a file's data is computed while streaming its tensors: hashing in pieces of any
    /// length must equal hashing the whole (FNV1a64 carries a partial word across pieces).
    func testChecksumOfPiecesEqualsChecksumOfWhole() {
        var rng = SplitMix64(seed: 12)
        let bytes = (0..<1000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let whole = bytes.withUnsafeBytes { FNV1a64.hash($0) }
        for _ in 0..<50 {
            var h = FNV1a64()
            var i = 0
            while i < bytes.count {
                let n = min(bytes.count - i, Int(rng.next() % 13))
                bytes[i..<(i + n)].withUnsafeBytes { h.add($0) }
                i += n
            }
            XCTAssertEqual(h.value, whole)
        }
        XCTAssertNotEqual(bytes.dropLast().withUnsafeBytes { FNV1a64.hash($0) }, whole)
    }
}
