#!/usr/bin/env bash
# ddplm built against MPICH instead of OpenMPI (MPIFlags in Package.swift finds it through
# MPICC=mpicc.mpich), run under MPICH's Hydra `mpiexec`:
#   - the build links MPICH and `ddplm info` names it;
#   - 2 and 4 MPICH ranks train what one process trains (losses, validation, test, weights);
#   - 2 MPICH ranks give the same bits as 2 OpenMPI ranks (the ring is ddplm's own code, not the library's);
#   - a run stopped after 20 steps and resumed under MPICH is bit-identical to one that ran straight through.
# Needs Debian's libmpich-dev and mpich (.ci/run installs them). Where they are missing the checks are
# skipped with a printed reason, except under CI (CI=true), where that is a failure.
# Usage: Tests/mpich/run.sh [path/to/openmpi/ddplm]
set -euo pipefail
cd "$(dirname "$0")/../.."
openmpi_bin=$(realpath "${1:-.build/release/ddplm}")
source Tests/env.sh mpich
source Tests/lib.sh

if ! command -v mpicc.mpich >/dev/null || ! command -v mpiexec.mpich >/dev/null; then
  if [[ "${CI:-}" == true ]]; then
    bad "MPICH is not installed (libmpich-dev, mpich): the MPICH build cannot be tested"
  else
    skip "MPICH checks: mpicc.mpich/mpiexec.mpich not installed (apt-get install libmpich-dev mpich)"
  fi
  summary mpich
  exit $(( fail > 0 ))
fi

echo "building ddplm against MPICH (MPICC=mpicc.mpich, scratch path .build-mpich) ..."
MPICC=mpicc.mpich swift build -c release --scratch-path .build-mpich >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
bin=$(realpath .build-mpich/release/ddplm)
mpich() { local n=$1; shift; timeout "${MPI_TIMEOUT:-120}" mpiexec.mpich -n "$n" -genv OPENBLAS_NUM_THREADS 1 -genv DDPLM_BLAS_AUTOSELECT 0 "$bin" "$@"; }

if ldd "$bin" | grep 'libmpich' >/dev/null && ! ldd "$bin" | grep 'libmpi\.so' >/dev/null && "$bin" info | grep '^mpi_library: MPICH' >/dev/null; then
  ok "the MPICH build links libmpich only, and info says: $("$bin" info | grep '^mpi_library')"
else bad "the MPICH build: $(ldd "$bin" | grep -i mpi | tr '\n' ' ') / $("$bin" info | grep '^mpi_library' || true)"; fi

"$bin" train "${data[@]}" "${small[@]}" --max-steps 40 --out "$tmp/ref" 2>/dev/null
for n in 2 4; do
  mpich "$n" train "${data[@]}" "${small[@]}" --max-steps 40 --check-every 10 --out "$tmp/np$n" 2>"$tmp/err" || cat "$tmp/err"
  if grep -q "$n ranks" "$tmp/err" && close "$tmp/ref" "$tmp/np$n" train 1e-4 && same_count "$tmp/ref" "$tmp/np$n" train \
     && close "$tmp/ref" "$tmp/np$n" valid 1e-4 && close "$tmp/ref" "$tmp/np$n" test 1e-4 \
     && "$bin" compare "$tmp/ref" "$tmp/np$n" --tolerance 1e-4 --quiet >/dev/null; then
    ok "mpiexec.mpich -n $n matches 1 process over 40 steps (losses, validation, test, weights)"
  else bad "mpiexec.mpich -n $n against 1 process"; fi
done

if [[ $have_mpi -eq 1 && -x "$openmpi_bin" ]] && ldd "$openmpi_bin" | grep 'libmpi\.so' >/dev/null; then
  bin_saved=$bin; bin=$openmpi_bin
  mpi 2 train "${data[@]}" "${small[@]}" --max-steps 40 --out "$tmp/ompi2" 2>/dev/null
  bin=$bin_saved
  if identical "$tmp/np2" "$tmp/ompi2" && diff <(losses "$tmp/np2" valid) <(losses "$tmp/ompi2" valid) >/dev/null \
     && "$bin" compare "$tmp/np2" "$tmp/ompi2" --tolerance 0 --quiet >/dev/null; then
    ok "2 MPICH ranks and 2 OpenMPI ranks train the same bits (losses and every weight)"
  else bad "2 MPICH ranks against 2 OpenMPI ranks"; fi
else
  skip "MPICH against OpenMPI: no OpenMPI build of ddplm at $openmpi_bin or no mpirun"
fi

mpich 2 train "${data[@]}" "${small[@]}" --max-steps 20 --out "$tmp/part" 2>/dev/null
mpich 2 train --resume "$tmp/part" --max-steps 40 2>/dev/null
if identical "$tmp/np2" "$tmp/part" && cmp -s "$tmp/np2/model.safetensors" "$tmp/part/model.safetensors"; then
  ok "resume under MPICH: 20 + 20 steps on 2 ranks are bit-identical to 40 (losses and model.safetensors)"
else bad "resume under MPICH"; fi

summary mpich
exit $(( fail > 0 ))
