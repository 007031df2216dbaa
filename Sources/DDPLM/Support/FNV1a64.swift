import Glibc

/// FNV-1a 64-bit: cheap, stable across runs and machines. Used for vocabulary hashes, checkpoint data
/// checksums and the cross-rank "same weights?" check.
struct FNV1a64 {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var h = value
        // Eight bytes at a time folded as one word, then the tail byte-wise: ~8x faster than byte FNV on
        // hundreds of MB while still order-sensitive.
        let n = bytes.count
        var i = 0
        if let base = bytes.baseAddress {
            while i + 8 <= n {
                let w = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                h = (h ^ w) &* 0x0000_0100_0000_01b3
                h ^= h >> 29
                i += 8
            }
            while i < n {
                h = (h ^ UInt64(base.load(fromByteOffset: i, as: UInt8.self))) &* 0x0000_0100_0000_01b3
                i += 1
            }
        }
        value = h
    }

    mutating func add(_ bytes: [UInt8]) { bytes.withUnsafeBytes { add($0) } }
    mutating func add(_ s: String) { add(Array(s.utf8)) }

    var hex: String { hex16(value) }

    static func hash(_ p: UnsafeRawBufferPointer) -> UInt64 {
        var h = FNV1a64()
        h.add(p)
        return h.value
    }
}

/// A 64-bit value as 16 lower-case hex digits.
func hex16(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}
