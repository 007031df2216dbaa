#!/usr/bin/env bash
# The whole test suite: unit tests (swift test), then the binary end to end, single-process and under
# mpirun (Tests/cli/run.sh, and Tests/cli/classify.sh for the classifiers), on a one-node Slurm cluster it brings up itself (Tests/slurm/run.sh), then
# the two-"host" network-namespace test when namespaces are available.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release
swift test
Tests/cli/run.sh .build/release/ddplm
Tests/cli/classify.sh .build/release/ddplm
Tests/slurm/run.sh .build/release/ddplm
launch/test-multihost .build/release/ddplm
