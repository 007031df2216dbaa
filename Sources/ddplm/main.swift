import ArgumentParser
import DDPLM

// OpenBLAS reads its settings when it loads: this re-executes the binary once with OPENBLAS_CORETYPE set
// if it fell back to an old core on a CPU that has AVX-512 or AVX2, and with a short idle-thread timeout
// (see BLASSetup.swift).
BLASSetup.configureOpenBLAS()

DDPLMCommand.main()
