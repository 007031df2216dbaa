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

/// SplitMix64: the seedable generator behind initialisation, dropout masks and sampling. Dropout uses it
/// counter-style (`mix`), so a mask depends only on (seed, step, position), never on how many ranks share
/// the batch or on where a run was resumed.
public struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    public init(seed: UInt64) { state = seed }

    @inline(__always)
    static func mix(_ z0: UInt64) -> UInt64 {
        var z = z0
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        return SplitMix64.mix(state)
    }

    /// Uniform in [0, 1) with 24 random bits.
    @inline(__always)
    public mutating func nextFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    mutating func nextDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Standard normal (Box–Muller).
    mutating func nextGaussian() -> Float {
        var u1 = nextDouble()
        if u1 < 1e-300 { u1 = 1e-300 }
        let u2 = nextDouble()
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
}

