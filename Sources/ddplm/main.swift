import ArgumentParser
import DDPLM

// OpenBLAS picks its kernels when it loads; if it fell back to an old core on a CPU that has AVX-512 or
// AVX2, this re-executes the binary with OPENBLAS_CORETYPE set (see BLASSetup.swift).
BLASSetup.selectCoreIfNeeded()

DDPLMCommand.main()
