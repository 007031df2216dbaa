import CKernels

/// How the gradient reduce-scatter puts the gradients on the wire. `fp32` (the default) sends floats:
/// N ranks train what one process trains, up to float summation order. `bf16` sends every partial sum
/// as bfloat16 (round to nearest even) and adds it in fp32 where it arrives: half the bytes of the
/// reduce-scatter (a quarter of the step's exchange less), at the price of a relative rounding of up to
/// 2⁻⁸ (0.4%: 8 significant bits) per hop, N−1 hops for N ranks, so the trajectory departs from one
/// process's and depends on N. The weight all-gather, the norm, clipping and Adam stay fp32, so every rank still holds
/// bit-identical weights. One rank exchanges nothing: there both are the same. A fixed training setting.
public enum GradientWire: String, Codable, Sendable, CaseIterable {
    case fp32
    case bf16

    /// Bytes one gradient element takes on the wire.
    public var bytes: Int { self == .fp32 ? 4 : 2 }

    /// The ring reduce-scatter of `channel` that puts gradients on the wire this way (the one place that
    /// chooses; the overlapped exchange's segments and the whole-block exchange both call it).
    func reduceScatter(_ channel: ExchangeChannel, _ buffer: UnsafeMutablePointer<Float>, countPerRank: Int, stride: Int) throws {
        switch self {
        case .fp32: try channel.reduceScatterSum(buffer, countPerRank: countPerRank, stride: stride)
        case .bf16: try channel.reduceScatterSumBF16(buffer, countPerRank: countPerRank, stride: stride)
        }
    }
}

/// The bf16 conversions of the wire format (vectorised C in `CKernels`).
enum BFloat16 {
    /// Round to nearest even; NaN stays NaN, values past the largest bf16 become ±Inf.
    static func encode(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt16>, count: Int) { ddplm_f32_to_bf16(x, y, count) }
    /// y[i] += decode(x[i]), in fp32.
    static func add(_ x: UnsafePointer<UInt16>, into y: UnsafeMutablePointer<Float>, count: Int) { ddplm_add_bf16(y, x, count) }
}
