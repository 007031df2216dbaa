import ArgumentParser
import DDPLM

/// `--recurrent-gemm packed|blas` (bench).
extension RecurrentGEMM: ExpressibleByArgument {}
