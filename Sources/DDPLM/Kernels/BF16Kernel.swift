import CKernels

/// The kernels that run `MatmulPrecision.medium`'s bf16 products (Sources/CKernels/bf16_gemm.c), on the
/// same packed operands and with the same rounding: both inputs to bf16 (nearest-even; the instructions
/// treat denormals as zero), each element of C a float sum over K's pairs in order. They differ only in
/// the order of the two products within a pair (VDPBF16PS adds the odd k's first, TDPBF16PS the even
/// k's), so a run moved between them changes its trajectory by float rounding.
/// - `amx`: Intel AMX tiles (Sapphire Rapids and newer);
/// - `avx512`: AVX512-BF16 registers (AMD Zen 4 and newer, Intel Cooper Lake, and every AMX CPU).
public enum BF16Kernel: String, CaseIterable, Sendable {
    case amx = "bf16-amx"
    case avx512 = "bf16-avx512"

    /// The one choice: AMX where the CPU and the kernel grant it, else AVX512-BF16, else none.
    public static func choose(avx512BF16: Bool, amx: Bool) -> BF16Kernel? {
        amx && avx512BF16 ? .amx : avx512BF16 ? .avx512 : nil
    }

    /// What this machine offers (`DDPLM_AMX=0` hides AMX, `DDPLM_AVX512BF16=0` both; the first call asks
    /// the kernel for the tile state).
    public static let available: [BF16Kernel] = {
        let f = ddplm_bf16_features()
        return allCases.filter { f & $0.featureBit != 0 }
    }()

    /// This machine's kernel for `medium`, or nil when it has none.
    public static let best: BF16Kernel? = choose(avx512BF16: available.contains(.avx512), amx: available.contains(.amx))

    /// The instruction set, for messages.
    public var instructions: String { self == .amx ? "AMX-BF16" : "AVX512-BF16" }

    var featureBit: Int32 { self == .amx ? DDPLM_BF16_AMX : DDPLM_BF16_AVX512 }

    /// Makes the C kernel run this one (the caller checked it is `available`).
    func select() { ddplm_bf16_select(featureBit) }
}
