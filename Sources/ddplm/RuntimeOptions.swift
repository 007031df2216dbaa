import ArgumentParser

/// Options every compute subcommand shares.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "OpenBLAS threads per rank (default: $OPENBLAS_NUM_THREADS, else the cores available to this rank).")
    var threads: Int?

    @Flag(help: "Keep OpenBLAS's own kernel choice even if it fell back to an old core (also: DDPLM_BLAS_AUTOSELECT=0).")
    var noBlasAutoselect = false
}
