#!/usr/bin/env bash
# The whole test suite: the docs against the binary and the tree (Tests/docs/check.py), the bf16 GEMM
# kernels' code with emulated intrinsics (Tests/bf16/run.sh), unit tests (swift test), then the binary end to end, single-process and under mpirun (Tests/cli/run.sh, and
# Tests/cli/classify.sh for the classifiers), built against MPICH and run under its mpiexec
# (Tests/mpich/run.sh), on a one-node Slurm cluster it brings up itself (Tests/slurm/run.sh), then the
# two-"host" network-namespace test when namespaces are available.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release
python3 Tests/docs/check.py .build/release/ddplm
Tests/bf16/run.sh
swift test
Tests/cli/run.sh .build/release/ddplm
Tests/cli/classify.sh .build/release/ddplm
Tests/mpich/run.sh .build/release/ddplm
Tests/slurm/run.sh .build/release/ddplm
launch/test-multihost .build/release/ddplm
