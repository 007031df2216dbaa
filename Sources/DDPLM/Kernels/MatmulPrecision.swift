import CKernels

/// How the float32 matrix products run, as PyTorch's `torch.set_float32_matmul_precision`:
/// - `highest`: float32 throughout (OpenBLAS sgemm and the packed float kernels). The default.
/// - `medium`: each product rounds its two inputs to bfloat16 (8 significant bits, nearest-even) and
///   accumulates in float32 (`ddplm_gemm_bf16`, Sources/CKernels/bf16_gemm.c), on AMX tiles or
///   AVX512-BF16 registers (`BF16Kernel`). Weights, activations, gradients, the softmax, the norm and
///   Adam stay float32; only the products' inputs are rounded (by at most 2^-8, ~0.4%, each). Needs
///   AVX512-BF16 (AMD Zen 4 and newer, Intel Cooper Lake, Sapphire Rapids and newer).
/// Process-wide, set once before models are built (`set`); `gemm` and `PackedMatrix` read it.
public enum MatmulPrecision: String, CaseIterable, Sendable {
    case highest, medium

    nonisolated(unsafe) public private(set) static var current: MatmulPrecision = .highest
    /// The kernel `medium` runs on (nil in `highest`).
    nonisolated(unsafe) public private(set) static var kernel: BF16Kernel?

    /// Whether this machine can run `medium`.
    public static var mediumAvailable: Bool { BF16Kernel.best != nil }

    /// Sets the process's precision (`medium` on this machine's best kernel, or on `kernel` when given and
    /// available: the tests run every kernel the CPU has), or says in one line why this machine cannot.
    public static func set(_ p: MatmulPrecision, kernel asked: BF16Kernel? = nil) throws {
        guard p == .medium else {
            current = p
            kernel = nil
            return
        }
        guard let k = asked ?? BF16Kernel.best, BF16Kernel.available.contains(k) else {
            if let asked { throw DDPLMError("this machine cannot run the \(asked.rawValue) kernel (no \(asked.instructions))") }
            throw DDPLMError("--matmul-precision medium needs a CPU with AVX512-BF16 (AMD Zen 4 or newer, Intel Cooper Lake, Sapphire Rapids or newer), and this machine has none: use --matmul-precision highest")
        }
        k.select()
        current = p
        kernel = k
    }

    /// The one rule for a command that continues (`resuming`) or reads a saved run (`run`, which recorded
    /// `saved`, nil when it recorded nothing, and trained its bf16 products on `savedKernel`): the
    /// precision asked for, else the run's own. A resume that changes it says so, and so does a medium run
    /// continued on another bf16 kernel (the same rounding, another order within each pair); a run trained
    /// in medium on a machine without it is read in highest with a note, and resumed only when asked for
    /// highest explicitly. Returns the precision and the note.
    public static func forSavedRun(requested: MatmulPrecision?, saved: MatmulPrecision?, savedKernel: String? = nil,
                                   resuming: Bool, run: String,
                                   kernel: BF16Kernel? = BF16Kernel.best) throws -> (precision: MatmulPrecision, note: String?) {
        if let asked = requested {
            if resuming, let was = saved, asked != was {
                return (asked, "resuming a run trained with --matmul-precision \(was.rawValue) in \(asked.rawValue): the trajectory changes from here")
            }
            if resuming, asked == .medium, let k = kernel, let was = savedKernel, was != k.rawValue {
                return (asked, Self.kernelChange(was, k))
            }
            return (asked, nil)
        }
        guard saved == .medium else { return (saved ?? .highest, nil) }
        guard let k = kernel else {
            if resuming {
                throw DDPLMError("'\(run)' trained with --matmul-precision medium, which this machine cannot run (no AVX512-BF16); resume with --matmul-precision highest to continue in float32")
            }
            return (.highest, "'\(run)' trained with --matmul-precision medium; this machine has no AVX512-BF16, so its products run in highest")
        }
        if resuming, let was = savedKernel, was != k.rawValue { return (.medium, Self.kernelChange(was, k)) }
        return (.medium, nil)
    }

    private static func kernelChange(_ was: String, _ now: BF16Kernel) -> String {
        "this run's bf16 products ran on \(was) and continue on \(now.rawValue) (\(now.instructions)): the same rounding, another summation order within each pair, so the trajectory changes by float rounding from here"
    }

    /// The product's kernel, for start-up lines and bench output.
    public var kernelName: String { self == .highest ? "fp32" : MatmulPrecision.kernel?.rawValue ?? BF16Kernel.best?.rawValue ?? "bf16" }
}
