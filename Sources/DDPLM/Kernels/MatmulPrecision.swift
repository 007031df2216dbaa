import CKernels

/// How the float32 matrix products run, as PyTorch's `torch.set_float32_matmul_precision`:
/// - `highest`: float32 throughout (OpenBLAS sgemm and the packed float kernels). The default.
/// - `medium`: each product rounds its two inputs to bfloat16 (8 significant bits, nearest-even) and
///   accumulates in float32 on the CPU's AMX tile unit (`ddplm_gemm_bf16`, Sources/CKernels/amx_gemm.c).
///   Weights, activations, gradients, the softmax, the norm and Adam stay float32; only the products'
///   inputs are rounded (by at most 2^-8, ~0.4%, each). Needs AMX-BF16 (Intel Sapphire Rapids or newer).
/// Process-wide, set once before models are built (`set`); `gemm` and `PackedMatrix` read it.
public enum MatmulPrecision: String, CaseIterable, Sendable {
    case highest, medium

    nonisolated(unsafe) public private(set) static var current: MatmulPrecision = .highest

    /// Whether this CPU and kernel can run `medium` (asks the kernel for the tile state on first use).
    public static var mediumAvailable: Bool { ddplm_amx_available() != 0 }

    /// Sets the process's precision, or says in one line why this machine cannot run it.
    public static func set(_ p: MatmulPrecision) throws {
        if p == .medium && !mediumAvailable {
            throw DDPLMError("--matmul-precision medium needs a CPU with AMX-BF16 and AVX512-BF16 (Intel Sapphire Rapids or newer) and a Linux kernel that grants the tile state (5.16+), and this machine lacks one of them: use --matmul-precision highest")
        }
        current = p
    }

    /// The one rule for a command that continues (`resuming`) or reads a saved run (`run`, which recorded
    /// `saved`, nil when it recorded nothing): the precision asked for, else the run's own. A resume that
    /// changes it says so; a run trained in medium on a machine without it is read in highest with a
    /// note, and resumed only when asked for highest explicitly. Returns the precision and the note.
    public static func forSavedRun(requested: MatmulPrecision?, saved: MatmulPrecision?, resuming: Bool, run: String,
                                   mediumAvailable: Bool = MatmulPrecision.mediumAvailable) throws -> (precision: MatmulPrecision, note: String?) {
        if let asked = requested {
            if resuming, let was = saved, asked != was {
                return (asked, "resuming a run trained with --matmul-precision \(was.rawValue) in \(asked.rawValue): the trajectory changes from here")
            }
            return (asked, nil)
        }
        guard saved == .medium, !mediumAvailable else { return (saved ?? .highest, nil) }
        if resuming {
            throw DDPLMError("'\(run)' trained with --matmul-precision medium, which this machine cannot run (no AMX-BF16); resume with --matmul-precision highest to continue in float32")
        }
        return (.highest, "'\(run)' trained with --matmul-precision medium; this machine has no AMX-BF16, so its products run in highest")
    }

    /// The product's kernel, for start-up lines and bench output.
    public var kernelName: String { self == .highest ? "fp32" : "bf16-amx" }
}
