# Shared by the end-to-end test scripts (source it after setting $tmp): pass/fail counters, the tiny
# synthetic corpora, and the comparisons of two runs' metrics.jsonl.
pass=0; fail=0; skipped=0
ok() { echo "ok   - $*"; pass=$((pass + 1)); }
bad() { echo "FAIL - $*"; fail=$((fail + 1)); }
skip() { echo "skip - $*"; skipped=$((skipped + 1)); }
# A block of checks that needs a tool that is missing: locally printed and counted as skipped; under CI
# (CI=true), where .ci/run installs every tool, a failure.
missing() { if [[ "${CI:-}" == true ]]; then bad "$* (missing under CI)"; else skip "$*"; fi; }
# The closing line: "NAME: N passed, N failed, N skipped".
summary() { echo "$1: $pass passed, $fail failed, $skipped skipped"; }

# corpora: a word cycle with noise (learnable), deterministic; $tmp/{train,valid,test}.txt
awk 'BEGIN { srand(7); for (f = 0; f < 3; f++) { n = (f == 0 ? 6000 : 1500); i = 0; s = "";
       for (k = 0; k < n; k++) { i = (i + 1 + i % 3) % 40; w = (k % 7 == 6) ? int(rand() * 45) : i; s = s "w" w " " }
       print s > ("'"$tmp"'/" (f == 0 ? "train" : (f == 1 ? "valid" : "test")) ".txt") } }'
data=(--train "$tmp/train.txt" --valid "$tmp/valid.txt" --test "$tmp/test.txt")
small=(--emb 16 --hidden 16 --batch 8 --bptt 10 --lr 0.01 --log-every 1 --eval-every 10 --save-every 0 --threads 1)

# $bin under mpirun with N ranks, one OpenBLAS thread each, ended after $MPI_TIMEOUT seconds (default 120)
have_mpi=1; command -v mpirun >/dev/null || have_mpi=0
mpi() { local n=$1; shift; timeout "${MPI_TIMEOUT:-120}" mpirun -np "$n" --oversubscribe --bind-to none -x OPENBLAS_NUM_THREADS=1 -x DDPLM_BLAS_AUTOSELECT "$bin" "$@"; }

# no atomic-write temporaries (.NAME.tmp.PID) left in directory $1
no_temporaries() { ! ls -A "$1" | grep -q '^\..*\.tmp\.'; }
# loss column of metrics.jsonl records of one type
losses() { grep "\"type\":\"$2\"" "$1/metrics.jsonl" | sed 's/.*"loss":\([^,}]*\).*/\1/'; }
# same count and every pair within relative tolerance $4
close() {
  paste <(losses "$1" "$3") <(losses "$2" "$3") | awk -v tol="$4" '
    { n++; d = $1 - $2; if (d < 0) d = -d; m = ($1 < 0 ? -$1 : $1); if (d > tol * (m > 1 ? m : 1)) { bad++; if (bad < 4) print "  step " n ": " $1 " vs " $2 > "/dev/stderr" } }
    END { exit (n == 0 || bad > 0) }'
}
same_count() { [[ $(losses "$1" "$3" | wc -l) -eq $(losses "$2" "$3" | wc -l) ]]; }
identical() { diff <(losses "$1" train) <(losses "$2" train) >/dev/null; }
# the pids of the ddplm processes whose command line names --out $1
ranks_of() { pgrep -f -- "--out $1" | while read -r p; do [[ $(ps -o comm= -p "$p") == ddplm ]] && echo "$p"; done; }
# the pid of rank $2 of the job whose command line names --out $1 (mpirun's or srun's rank variable)
rank_pid() {
  local p
  for p in $(ranks_of "$1"); do
    tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qE "^(OMPI_COMM_WORLD_RANK|PMIX_RANK)=$2\$" && { echo "$p"; return; }
  done
}
