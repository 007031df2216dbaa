import ArgumentParser
import DDPLM

/// Options every compute subcommand shares.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "OpenBLAS threads per rank (default: $OPENBLAS_NUM_THREADS, else the cores available to this rank).")
    var threads: Int?

    @Option(help: "Seconds a rank may wait in a collective for the others before the job is ended with a line naming the late rank (0 = wait forever).")
    var hangTimeout: Double = 600

    @Option(help: ArgumentHelp("Matrix products: highest (float32) or medium (bf16 inputs, float32 accumulation, on AMX or AVX512-BF16), as torch.set_float32_matmul_precision (default: highest; for a saved run, the precision it trained with).",
                               discussion: "medium rounds each product's two inputs to bfloat16 (8 significant bits) and sums in float32, on the AMX tile unit where the CPU has one (Intel Sapphire Rapids and newer), else with AVX512-BF16 (AMD Zen 4 and newer, Intel Cooper Lake); weights, gradients, softmax, norm and Adam stay float32. A CPU without AVX512-BF16 refuses it."))
    var matmulPrecision: MatmulPrecision?

    /// Acts before parsing: BLASSetup reads it from the command line, since it must decide before
    /// OpenBLAS's kernels load (a re-exec); declared here so that --help lists it and the parser accepts it.
    @Flag(help: "Keep OpenBLAS as it loads: its own kernel choice even if it fell back to an old core, and its idle threads' long spin (also: DDPLM_BLAS_AUTOSELECT=0).")
    var noBlasAutoselect = false
}
