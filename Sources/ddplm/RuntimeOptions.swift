import ArgumentParser

/// Options every compute subcommand shares.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "OpenBLAS threads per rank (default: $OPENBLAS_NUM_THREADS, else the cores available to this rank).")
    var threads: Int?

    @Option(help: "Seconds a rank may wait in a collective for the others before the job is ended with a line naming the late rank (0 = wait forever).")
    var hangTimeout: Double = 600

    @Flag(help: "Keep OpenBLAS as it loads: its own kernel choice even if it fell back to an old core, and its idle threads' long spin (also: DDPLM_BLAS_AUTOSELECT=0).")
    var noBlasAutoselect = false
}
