#!/usr/bin/env bash
# End-to-end tests of `ddplm classify`, single-process and under mpirun:
#   - it learns the bundled sample, whose labels need word order: CNN and BiLSTM high, WordAVG clearly lower
#   - 2 ranks train what 1 process trains (CNN and BiLSTM: losses, accuracies, weights)
#   - eval reproduces the run's test accuracy (alone and under mpirun); predict labels stdin and files
#   - bit-exact resume (also after SIGTERM); info; pretrained vectors; bad input gets one clear line and a
#     non-zero exit
# Usage: Tests/cli/classify.sh [path/to/ddplm]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(realpath "${1:-.build/release/ddplm}")
[[ -x "$bin" ]] || { echo "no ddplm binary at $bin (swift build -c release)" >&2; exit 1; }
source Tests/env.sh classify
MPI_TIMEOUT=300
source Tests/lib.sh
train=data/classify-sample/train.tsv; test=data/classify-sample/test.tsv
# a field of the last metrics record of one type
field() { grep "\"type\":\"$2\"" "$1/metrics.jsonl" | tail -1 | sed "s/.*\"$3\":\([^,}]*\).*/\1/"; }
above() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }

# --- 1. learning on the sample: order-aware models beat the bag of words
"$bin" classify train --model cnn --epochs 6 --threads 1 --out "$tmp/cnn" 2>"$tmp/err" || cat "$tmp/err"
"$bin" classify train --model wordavg --epochs 6 --threads 1 --out "$tmp/avg" 2>/dev/null
"$bin" classify train --model bilstm --emb 32 --hidden 64 --lr 3e-3 --epochs 8 --threads 1 --out "$tmp/lstm" 2>/dev/null
cnn=$(field "$tmp/cnn" test accuracy); avg=$(field "$tmp/avg" test accuracy); lstm=$(field "$tmp/lstm" test accuracy)
if above "$cnn" 0.9 && above "$lstm" 0.9 && above 0.8 "$avg" && grep -q 'training on the bundled synthetic sample' "$tmp/err"; then
  ok "the sample needs word order: test accuracy CNN $cnn, BiLSTM (64 units) $lstm, WordAVG $avg"
else bad "learning on the sample: CNN $cnn, BiLSTM $lstm, WordAVG $avg"; fi

# --- 2. eval and predict on the saved model
if out=$("$bin" classify eval "$tmp/cnn" 2>&1) && [[ "$out" == "accuracy $(printf '%.4f' "$cnn") |"* ]]; then
  ok "classify eval reproduces the run's test accuracy: $out"
else bad "classify eval: $out (run's test accuracy $cnn)"; fi
if out=$("$bin" classify eval "$tmp/cnn" --split valid 2>&1) && [[ "$out" == "accuracy "*" | 1800 documents" ]]; then
  ok "classify eval --split valid rebuilds the held-out 30% of the training file: $out"
else bad "classify eval --split valid: $out"; fi
printf 'the acting was good and the plot was great\n\nthe acting was not good and the plot was awful\n' > "$tmp/docs.txt"
if out=$("$bin" classify predict "$tmp/cnn" < "$tmp/docs.txt" 2>&1) && [[ $(echo "$out" | wc -l) -eq 2 ]] \
   && echo "$out" | awk -F'\t' '($1 != "pos" && $1 != "neg") || $2 < 0.5 || $2 > 1 { exit 1 }'; then
  ok "classify predict: one 'label<TAB>probability' line per document on stdin ($(echo "$out" | tr '\n\t' '; '))"
else bad "classify predict: $out"; fi
head -1 "$tmp/docs.txt" > "$tmp/one.txt"
if out=$("$bin" classify predict "$tmp/cnn" "$tmp/one.txt" 2>&1) && [[ "$out" == *"$tmp/one.txt" ]]; then ok "classify predict FILE names the file"; else bad "predict FILE: $out"; fi

if out=$("$bin" info "$tmp/cnn" 2>&1) && [[ "$out" == "model: cnn classifier"* && "$out" == *"latest.safetensors ok"* ]]; then
  ok "info on a classifier run: $(echo "$out" | head -1)"
else bad "info: $out"; fi
check_plot=$("$bin" plot "$tmp/cnn" --out "$tmp/p.svg" 2>&1 || true)
if [[ "$check_plot" == *"is a classifier run"* ]]; then ok "plot on a classifier run says what it is"; else bad "plot: $check_plot"; fi

# --- 3. under mpirun: 2 ranks train what 1 process trains, and eval splits the documents
if [[ $have_mpi -eq 1 ]]; then
  small=(--train "$train" --test "$test" --batch 16 --epochs 1 --max-steps 40 --eval-every 20 --log-every 1 --threads 1)
  for spec in "cnn:--emb 16 --filters 8" "bilstm:--emb 12 --hidden 10 --dropout 0.2"; do
    m=${spec%%:*}; read -r -a sizes <<< "${spec#*:}"
    "$bin" classify train --model "$m" "${sizes[@]}" "${small[@]}" --out "$tmp/r1-$m" 2>/dev/null
    mpi 2 classify train --model "$m" "${sizes[@]}" "${small[@]}" --check-every 10 --out "$tmp/r2-$m" 2>"$tmp/err" || cat "$tmp/err"
    if close "$tmp/r1-$m" "$tmp/r2-$m" train 1e-4 && same_count "$tmp/r1-$m" "$tmp/r2-$m" train && close "$tmp/r1-$m" "$tmp/r2-$m" valid 1e-4 \
       && [[ $(field "$tmp/r1-$m" test accuracy) == $(field "$tmp/r2-$m" test accuracy) ]] \
       && "$bin" compare "$tmp/r1-$m" "$tmp/r2-$m" --tolerance 1e-4 --quiet >/dev/null; then
      ok "classify $m: mpirun -np 2 matches 1 process over 40 steps (losses, validation, test accuracy, weights)"
    else bad "classify $m: -np 2 vs 1 process"; fi
  done
  one=$("$bin" classify eval "$tmp/cnn" --data "$test" 2>&1); two=$(mpi 2 classify eval "$tmp/cnn" --data "$test" 2>&1)
  if [[ "$one" == "$two" && "$one" == accuracy* ]]; then ok "classify eval under mpirun -np 2 equals 1 process: $two"; else bad "eval -np 2: '$two' vs '$one'"; fi
else
  missing "mpirun not found: the classifiers under mpirun"
fi

# --- 4. resume is bit-exact; pretrained vectors
args=(--model cnn --emb 16 --filters 8 --batch 16 --epochs 2 --log-every 1 --threads 1)
"$bin" classify train "${args[@]}" --out "$tmp/full" 2>/dev/null
"$bin" classify train "${args[@]}" --max-steps 100 --out "$tmp/part" 2>/dev/null
"$bin" classify train --resume "$tmp/part" "${args[@]}" --max-steps 0 2>/dev/null
if identical "$tmp/full" "$tmp/part" && "$bin" compare "$tmp/full/latest.safetensors" "$tmp/part/latest.safetensors" --tolerance 0 --quiet >/dev/null; then
  ok "classify resume (100 of $(grep -c '"type":"train"' "$tmp/full/metrics.jsonl") steps, then --resume) is bit-identical"
else bad "classify resume"; fi
# SIGTERM mid-run: stops after the step with latest saved; --resume finishes the uninterrupted run's way
"$bin" classify train "${args[@]}" --epochs 12 --out "$tmp/sigref" 2>/dev/null
"$bin" classify train "${args[@]}" --epochs 12 --out "$tmp/sig" > "$tmp/sig.log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '^step 40 ' "$tmp/sig.log" && break; sleep 0.1; done
kill -TERM "$pid"; wait "$pid" || true
"$bin" classify train --resume "$tmp/sig" 2>/dev/null
if grep -q 'stopped by signal at step' "$tmp/sig.log" && identical "$tmp/sigref" "$tmp/sig" \
   && "$bin" compare "$tmp/sigref/latest.safetensors" "$tmp/sig/latest.safetensors" --tolerance 0 --quiet >/dev/null; then
  ok "classify: SIGTERM at $(grep -o 'stopped by signal at step [0-9]*' "$tmp/sig.log" | grep -o '[0-9]*$'), then --resume: bit-identical to the uninterrupted run"
else bad "classify SIGTERM + resume"; tail -3 "$tmp/sig.log"; fi
printf 'good 0.5 0.5 0.5 0.5\nthe 0.1 0.2 0.3 0.4\nnotaword 1 1 1 1\n' > "$tmp/vec.txt"
if "$bin" classify train --model wordavg --emb 4 --vectors "$tmp/vec.txt" --max-steps 2 --threads 1 --out "$tmp/vec" 2>"$tmp/err" \
   && grep -q 'vectors for 2 of' "$tmp/err"; then ok "--vectors: $(grep -o 'vectors for [^|]*' "$tmp/err")"; else bad "--vectors"; cat "$tmp/err"; fi

# --- 5. bad input: one line on stderr, non-zero exit
printf 'pos good\n' > "$tmp/notab.tsv"
printf 'pos\tgood\nmaybe\tbad\n' > "$tmp/odd.tsv"
printf 'good 0.5 0.5\n' > "$tmp/short.txt"
# (progress notes before the error are fine; the error itself is one line, and nothing crashes)
check_fails() {
  local want=$1; shift
  if out=$(timeout 60 "$bin" "$@" 2>&1); then bad "accepted: $*"; return; fi
  local err; err=$(echo "$out" | grep '^ddplm: error:' || true)
  if [[ $(echo "$err" | wc -l) -eq 1 && "$err" == *"$want"* ]] && ! echo "$out" | grep -qiE 'fatal|stack|backtrace'; then
    ok "refused with one line: $err"
  else bad "$*: $out"; fi
}
check_fails "does not exist" classify train --train "$tmp/none.tsv" --out "$tmp/x1"
check_fails "expected 'label<TAB>text'" classify train --train "$tmp/notab.tsv" --out "$tmp/x2"
check_fails "has the label 'maybe'" classify train --train "$train" --test "$tmp/odd.tsv" --out "$tmp/x3"
check_fails "line 1 has 2 numbers, but --emb is 4" classify train --model wordavg --emb 4 --vectors "$tmp/short.txt" --out "$tmp/x4"
check_fails "--vocab-parallel splits a language model's decoder" classify train --train "$train" --vocab-parallel --out "$tmp/x6"
if out=$("$bin" classify train --model transformer --out "$tmp/x5" 2>&1); then bad "accepted --model transformer"
elif [[ "$out" == *"'transformer' is invalid for '--model <model>'. Please provide one of 'wordavg', 'bilstm' or 'cnn'"* ]]; then ok "--model transformer: the parser names the three models"
else bad "--model transformer: $out"; fi
check_fails "has the label 'maybe'" classify eval "$tmp/cnn" --data "$tmp/odd.tsv"
mkdir -p "$tmp/lm" && echo '{"format": "ddplm-run-2"}' > "$tmp/lm/config.json" && touch "$tmp/lm/vocab.txt" "$tmp/lm/model.safetensors"
check_fails "not a classifier run (a language-model run: use 'ddplm eval|generate')" classify eval "$tmp/lm" --data "$test"
check_fails "does not exist" classify predict "$tmp/nowhere" "$tmp/one.txt"

summary classify
[[ $fail -eq 0 ]]
