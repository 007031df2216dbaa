#!/bin/bash
# The bf16 GEMM kernels of Sources/CKernels/bf16_gemm.c on any CPU: check.c compiles the kernel source
# with its intrinsics emulated in C (emulated.h) and checks both kernels against a naive twin. (The
# XCTests run the real instructions where the CPU has them: MatmulPrecisionTests.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cc=${CC:-clang}
command -v "$cc" >/dev/null || cc=cc
"$cc" -std=gnu11 -O1 -Wall -Wno-unused-function -Wno-psabi -I "$root/Sources/CKernels/include" "$here/check.c" -o "$out/check" -lm -lpthread
"$out/check"
