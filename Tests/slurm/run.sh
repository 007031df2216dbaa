#!/usr/bin/env bash
# End-to-end tests of ddplm on a real one-node Slurm cluster, brought up by this script from Debian's
# packages (Tests/slurm/cluster.sh: munged, slurmctld, slurmd in a temp dir) and torn down at exit:
#   - srun --mpi=pmix -n 2 equals one process over 40 steps (losses, validation, test, weights)
#   - sbatch launch/ddplm.sbatch trains 2 ranks to completion; the same submission again continues the run
#     (20 → 40 steps, bit-identical to one 40-step job); `scancel --signal=USR1 JOB` stops a batch job
#     gracefully without requeueing it, and the identical submission resumes it
#   - scancel --signal=USR1 on a running 2-rank srun job: exit 0, latest written, the resumed run is
#     bit-identical to an uninterrupted one
#   - USR1 to the batch shell only (what --signal=B:USR1@N does at the time limit): the template forwards
#     it to the ranks, requeues the job, and the requeued job continues to the end
#   - srun --mpi=none -n 2 is refused with one line; a rank stopped with SIGSTOP under srun ends the step
#     within --hang-timeout, with a line naming it
# Tiny synthetic corpora, a few seconds each (~30 s in all). Usage: Tests/slurm/run.sh [path/to/ddplm]
# Needs root (slurmd runs jobs as their user); installs slurmd slurmctld slurm-client munge with apt-get
# when missing. Where that is impossible it prints "skip - ..." and exits 0.
#
# Measured with slurm-wlm 22.05.8, OpenMPI 4.1.4, PMIx 4.2.2 (Debian 12), so the tests need not print it:
#   - a rank under `srun --mpi=pmix -n 2` sees PMIX_RANK, PMIX_NAMESPACE, PMIX_SERVER_URI*, SLURM_PROCID,
#     SLURM_LOCALID, SLURM_NTASKS/SLURM_NPROCS, SLURM_STEP_NUM_TASKS, SLURM_STEP_TASKS_PER_NODE,
#     SLURM_TASKS_PER_NODE, SLURM_CPUS_ON_NODE (the node's CPUs), SLURM_JOB_CPUS_PER_NODE, SLURM_MPI_TYPE=pmix,
#     and no OMPI_COMM_WORLD_* or PMI_*; SLURM_CPUS_PER_TASK only with -c/--cpus-per-task (the one difference);
#   - `srun --mpi=none -n 2 ddplm train …` would run two independent single-process trainings (no PMIx, so no
#     MPI world) into the same --out: both exit 0, metrics.jsonl gets every step twice;
#   - srun forwards a USR1 sent to it to every process of the step; `scancel --signal=USR1 JOB` (no --full)
#     reaches the step's tasks only, `scancel --batch --signal=USR1 JOB` the batch shell only, like
#     --signal=B:USR1@N. With --time=1 --signal=B:USR1@45 the shell got it 19-20 s into the job;
#   - a requeued job waits AuthInfo cred_expire (5 s here, 120 s by default) before it starts again.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(realpath "${1:-.build/release/ddplm}")
[[ -x "$bin" ]] || { echo "no ddplm binary at $bin (swift build -c release)" >&2; exit 1; }

# --- Slurm: install when missing (root only), else skip
if [[ $(id -u) -ne 0 ]]; then echo "skip - Slurm tests: need root to run slurmd (and to install Slurm)"; exit 0; fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v srun >/dev/null || ! command -v munged >/dev/null; then
  command -v apt-get >/dev/null || { echo "skip - Slurm tests: slurmctld/slurmd/munge not installed and no apt-get"; exit 0; }
  pkgs=(slurmd slurmctld slurm-client munge)
  echo "# installing ${pkgs[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" >/tmp/ddplm-slurm-apt.log 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >>/tmp/ddplm-slurm-apt.log 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" >>/tmp/ddplm-slurm-apt.log 2>&1 \
      || { echo "skip - Slurm tests: apt-get install ${pkgs[*]} failed: $(tail -n1 /tmp/ddplm-slurm-apt.log)"; exit 0; }
  fi
fi

export DDPLM_BLAS_AUTOSELECT=0   # tests never change OPENBLAS_CORETYPE
source Tests/slurm/cluster.sh
tmp=$(mktemp -d /tmp/ddplm-slurm.XXXXXX)
cluster=$(mktemp -d /tmp/ddplm-slurm-cluster.XXXXXX)   # its own dir: user munge must reach its socket
trap 'slurm_down; rm -rf "$tmp" "$cluster"' EXIT
trap 'exit 130' INT; trap 'exit 143' TERM
source Tests/lib.sh
secs() { echo "$(( ($(date +%s%N) - $1) / 1000000 ))" | awk '{ printf "%.1f", $1 / 1000 }'; }   # since $1 (date +%s%N)

t0=$(date +%s%N)
if ! slurm_up "$cluster"; then
  bad "one-node Slurm did not come up (see above)"
  summary slurm; exit 1
fi
ok "one-node Slurm up in $(secs "$t0")s: munged, slurmctld, slurmd; node $(sinfo -h -N -o '%N %T %c CPUs' | head -n1)"

train_steps() { grep -c '"type":"train"' "$1/metrics.jsonl" 2>/dev/null || true; }
# wait_steps DIR N [JOB]: until DIR/metrics.jsonl holds N train records (20 s at most; stop early if JOB ends)
wait_steps() {
  local i
  for ((i = 0; i < 200; i++)); do
    [[ $(train_steps "$1") -ge $2 ]] && return 0
    [[ -n "${3:-}" && $((i % 5)) -eq 4 && -z "$(squeue -h -j "$3" -t PD,R,CF 2>/dev/null || true)" ]] && return 1
    sleep 0.1
  done
  return 1
}
srun2() { timeout 60 srun --mpi=pmix -n 2 -O "$@"; }   # -O: 2-task steps need not wait for free CPUs

# --- 1. srun --mpi=pmix -n 2 == one process
t0=$(date +%s%N)
"$bin" train "${data[@]}" "${small[@]}" --max-steps 40 --out "$tmp/ref" 2>/dev/null
srun2 -J ddplm-eq "$bin" train "${data[@]}" "${small[@]}" --max-steps 40 --out "$tmp/srun" >/dev/null 2>"$tmp/srun.err" || true
if [[ -f "$tmp/srun/metrics.jsonl" ]] && same_count "$tmp/ref" "$tmp/srun" train && close "$tmp/ref" "$tmp/srun" train 1e-4 \
   && close "$tmp/ref" "$tmp/srun" valid 1e-4 && close "$tmp/ref" "$tmp/srun" test 1e-4 \
   && "$bin" compare "$tmp/ref" "$tmp/srun" --tolerance 1e-4 --quiet >/dev/null && grep -q "2 ranks" "$tmp/srun.err"; then
  ok "srun --mpi=pmix -n 2 matches 1 process over 40 steps (losses, validation, test, weights) [$(secs "$t0")s]"
else bad "srun --mpi=pmix -n 2 differs from 1 process"; tail -n 5 "$tmp/srun.err" || true; fi

# --- 1b. ddplm info under srun: the launch, the rank of the size, and why the threads per rank
if out=$(timeout 60 srun --mpi=pmix -n 2 -c 1 -O "$bin" info 2>&1) && grep -q "^launch: srun (PMIx), rank 0 of 2" <<< "$out" \
   && grep -q "^launch: srun (PMIx), rank 1 of 2" <<< "$out" && grep -q "^threads_per_rank: 1 (SLURM_CPUS_PER_TASK=1)" <<< "$out"; then
  ok "info under srun -n 2 -c 1: $(grep -m1 '^launch' <<< "$out"); $(grep -m1 '^threads_per_rank' <<< "$out")"
else bad "info under srun: $out"; fi

# --- 2./3./5. need `--resume auto` (launch/ddplm.sbatch runs `ddplm train --out RUN --resume auto …`)
resume_auto=1
if ! "$bin" train "${data[@]}" "${small[@]}" --max-steps 1 --out "$tmp/probe" --resume auto >/dev/null 2>"$tmp/probe.err"; then
  resume_auto=0
  no_auto="this ddplm has no 'train --resume auto', which launch/ddplm.sbatch uses ($(head -n1 "$tmp/probe.err" | cut -c1-110))"
fi
# sbatch_run NAME RUNDIR ARGS...: submit the template with the test binary, print the job id
sbatch_run() {
  local name=$1 run=$2; shift 2
  DDPLM_BIN="$bin" DDPLM_RUN="$run" sbatch --parsable -J "$name" -o "$tmp/$name-%j.out" --time=5 launch/ddplm.sbatch "$@"
}
job_out() { cat "$tmp/$1-$2.out" 2>/dev/null || true; }

# --- 2. sbatch launch/ddplm.sbatch: 2 ranks to completion
if [[ $resume_auto -eq 1 ]]; then
  t0=$(date +%s%N)
  job=$(sbatch_run sb "$tmp/sb" "${data[@]}" "${small[@]}" --max-steps 40) || job=none
  if slurm_wait_job "$job" 30 && [[ "$slurm_job_state $slurm_job_exit" == "COMPLETED 0:0" ]] && [[ -f "$tmp/sb/model.safetensors" ]] \
     && same_count "$tmp/ref" "$tmp/sb" train && close "$tmp/ref" "$tmp/sb" train 1e-4 && grep -q "2 ranks x 1 threads" <<< "$(job_out sb "$job")"; then
    ok "sbatch launch/ddplm.sbatch: 2 ranks × 1 thread trained 40 steps to completion, model.safetensors written, losses match 1 process [$(secs "$t0")s]"
  else bad "sbatch launch/ddplm.sbatch: job $job ${slurm_job_state:-} ${slurm_job_exit:-}"; job_out sb "$job" | grep -v '^step\|^valid' | tail -n 6 || true; fi
else bad "sbatch launch/ddplm.sbatch trains 2 ranks: $no_auto"; fi

# --- 3. the same submission again continues the run (20 steps, then resubmitted with --max-steps 40)
if [[ $resume_auto -eq 1 ]]; then
  t0=$(date +%s%N)
  job=$(sbatch_run sb2 "$tmp/sb2" "${data[@]}" "${small[@]}" --max-steps 20) || job=none
  slurm_wait_job "$job" 30 || true; first="$slurm_job_state $slurm_job_exit"
  job2=$(sbatch_run sb2 "$tmp/sb2" "${data[@]}" "${small[@]}" --max-steps 40) || job2=none
  if slurm_wait_job "$job2" 30 && [[ "$first|$slurm_job_state $slurm_job_exit" == "COMPLETED 0:0|COMPLETED 0:0" ]] \
     && grep -q "resumed from" <<< "$(job_out sb2 "$job2")" && identical "$tmp/sb" "$tmp/sb2" \
     && "$bin" compare "$tmp/sb/latest.safetensors" "$tmp/sb2/latest.safetensors" --tolerance 0 --quiet >/dev/null; then
    ok "sbatch resubmitted with the same arguments continues the run (20 → 40 steps), bit-identical to one 40-step job [$(secs "$t0")s]"
  else bad "sbatch resubmission does not continue the run: jobs $job ($first), $job2 (${slurm_job_state:-} ${slurm_job_exit:-})"; job_out sb2 "$job2" | grep -v '^step\|^valid' | tail -n 6 || true; fi
else bad "sbatch resubmitted continues the run: $no_auto"; fi

# --- 3b. scancel --signal=USR1 JOB stops a batch job gracefully (the ranks only: no requeue); the identical
#         submission resumes it and runs to the end (--max-minutes ends each attempt after ~3 s)
if [[ $resume_auto -eq 1 ]]; then
  t0=$(date +%s%N)
  long=(--log-every 10 --epochs 100000 --max-steps 100000000 --max-minutes 0.05)
  job=$(sbatch_run st "$tmp/st" "${data[@]}" "${small[@]}" "${long[@]}") || job=none
  wait_steps "$tmp/st" 3 "$job" || true
  scancel --signal=USR1 "$job" 2>/dev/null || true
  slurm_wait_job "$job" 30 || true; first="$slurm_job_state $slurm_job_exit"
  restarts=$(scontrol -o show job "$job" 2>/dev/null | sed -n 's/.* Restarts=\([0-9]*\).*/\1/p') || true
  stopped=$(sed -n 's/^stopped by signal at step \([0-9]*\);.*/\1/p' <<< "$(job_out st "$job")")
  job2=$(sbatch_run st "$tmp/st" "${data[@]}" "${small[@]}" "${long[@]}") || job2=none
  slurm_wait_job "$job2" 30 || true
  steps=$(grep '"type":"train"' "$tmp/st/metrics.jsonl" 2>/dev/null | sed 's/.*"step":\([0-9]*\).*/\1/' | awk '$1 <= last { bad = 1 } { last = $1 } END { print (bad ? -1 : last) }') || true   # increasing: no step twice
  if [[ "$first|$restarts|$slurm_job_state $slurm_job_exit" == "COMPLETED 0:0|0|COMPLETED 0:0" && -n "$stopped" ]] \
     && grep -q "resumed from .* at step $stopped " <<< "$(job_out st "$job2")" && [[ ${steps:-0} -gt $stopped ]] \
     && grep -v '"type":"time"' "$tmp/st/metrics.jsonl" | tail -n 1 | grep '"type":"test"' >/dev/null; then
    ok "scancel --signal=USR1 on a batch job: stopped at step $stopped, exit 0, not requeued; the identical sbatch resumed it and finished at step $steps [$(secs "$t0")s]"
  else bad "graceful stop and identical resubmission: jobs $job ($first, restarts ${restarts:-?}, stopped at ${stopped:-?}), $job2 (${slurm_job_state:-} ${slurm_job_exit:-}), steps ${steps:-?}"
    job_out st "$job2" | grep -v '^step\|^valid' | tail -n 6 || true; fi
else bad "sbatch: graceful stop, then the identical submission continues: $no_auto"; fi

# --- 4. scancel --signal=USR1 on a running 2-rank srun job: every rank stops after the same step, exit 0,
#        latest written; resuming it is bit-identical to an uninterrupted run
t0=$(date +%s%N)
srun2 -J ddplm-usr1 "$bin" train "${data[@]}" "${small[@]}" --epochs 1000 --max-steps 1000000 --out "$tmp/usr1" >/dev/null 2>"$tmp/usr1.err" &
pid=$!
wait_steps "$tmp/usr1" 30 || true
job=$(squeue -h -n ddplm-usr1 -o %i) || true
if [[ -n "$job" ]]; then scancel --signal=USR1 "$job" || true; else kill -KILL "$pid" 2>/dev/null || true; fi   # no job: fail below
set +e; wait "$pid"; rc=$?; set -e
steps=$(train_steps "$tmp/usr1")
if [[ -n "$job" && $rc -eq 0 && -f "$tmp/usr1/latest.safetensors" ]] && [[ $(grep -c "stopped by signal at step $steps;" "$tmp/usr1.err") -ge 1 ]] \
   && [[ $(grep '"type":"train"' "$tmp/usr1/metrics.jsonl" | sed 's/.*"step":\([0-9]*\).*/\1/' | sort -un | wc -l) -eq $steps ]]; then
  more=$((steps + 20))
  srun2 -J ddplm-usr1-resume "$bin" train --resume "$tmp/usr1" --max-steps "$more" >/dev/null 2>&1 || true
  srun2 -J ddplm-usr1-ref "$bin" train "${data[@]}" "${small[@]}" --epochs 1000 --max-steps "$more" --out "$tmp/usr1-ref" >/dev/null 2>&1 || true
  if identical "$tmp/usr1" "$tmp/usr1-ref" && "$bin" compare "$tmp/usr1/latest.safetensors" "$tmp/usr1-ref/latest.safetensors" --tolerance 0 --quiet >/dev/null; then
    ok "scancel --signal=USR1 on a 2-rank srun job: stopped at step $steps, exit 0, latest written; resumed under srun bit-identically [$(secs "$t0")s]"
  else bad "USR1-stopped srun run does not resume bit-identically (stopped at step $steps)"; fi
else bad "scancel --signal=USR1 on a 2-rank srun job ${job:-(not found in squeue)}: srun exit $rc, $steps steps"; tail -n 3 "$tmp/usr1.err" || true; fi

# --- 5. USR1 to the batch shell only (as --signal=B:USR1@N sends it before the time limit): the template
#        forwards it to the ranks, which checkpoint; it requeues the job, which continues to the end
if [[ $resume_auto -eq 1 ]]; then
  t0=$(date +%s%N)
  # --max-minutes ends each attempt (the requeued one too) after ~3 s; the signal comes long before
  job=$(sbatch_run rq "$tmp/rq" "${data[@]}" "${small[@]}" --log-every 10 --epochs 100000 --max-steps 100000000 --max-minutes 0.05) || job=none
  wait_steps "$tmp/rq" 3 "$job" || true
  scancel --batch --signal=USR1 "$job" 2>/dev/null || true
  slurm_wait_job "$job" 40 || true
  out=$(job_out rq "$job")
  restarts=$(scontrol -o show job "$job" 2>/dev/null | sed -n 's/.* Restarts=\([0-9]*\).*/\1/p') || true
  if [[ "$slurm_job_state $slurm_job_exit" == "COMPLETED 0:0" && "$restarts" == 1 ]] && grep -q "requeueing job $job" <<< "$out" \
     && grep -q "stopped by signal" <<< "$out" && grep -q "resumed from" <<< "$out" && grep -q "finished (max-minutes)" <<< "$out" \
     && grep -v '"type":"time"' "$tmp/rq/metrics.jsonl" | tail -n 1 | grep '"type":"test"' >/dev/null; then
    ok "USR1 to the batch shell: forwarded to the ranks, latest saved, job requeued and resumed to completion [$(secs "$t0")s]"
  else bad "USR1 to the batch shell: job $job ${slurm_job_state:-} ${slurm_job_exit:-}, restarts ${restarts:-?}"; grep -v '^step\|^valid' <<< "$out" | tail -n 8 || true; fi
else bad "USR1 to the batch shell is forwarded and the job requeued: $no_auto"; fi

# --- 6. srun --mpi=none -n 2: no MPI world joins the tasks, so each would train alone into the same
#        directory; every task refuses with one line instead
set +e; timeout 60 srun --mpi=none -n 2 -O "$bin" train "${data[@]}" "${small[@]}" --max-steps 5 --out "$tmp/none" >"$tmp/none.out" 2>"$tmp/none.err"; rc=$?; set -e
if [[ $rc -ne 0 ]] && grep -q "no MPI world joins them (srun --mpi=none?); launch with \`srun --mpi=pmix\`" "$tmp/none.err" && [[ ! -e "$tmp/none" ]]; then
  ok "srun --mpi=none -n 2 is refused (exit $rc): $(grep -m1 error "$tmp/none.err" | cut -c1-120)"
else bad "srun --mpi=none -n 2: exit $rc, $(head -c 300 "$tmp/none.err")"; fi

# --- 7. a rank stopped with SIGSTOP under srun: the watchdog ends the step within the hang timeout,
#        naming the rank, and the last latest.safetensors stays whole
t0=$(date +%s%N)
srun2 -J ddplm-hang "$bin" train "${data[@]}" "${small[@]}" --epochs 1000 --max-steps 100000 --save-every 20 --hang-timeout 3 --out "$tmp/hang" >/dev/null 2>"$tmp/hang.err" &
pid=$!
for _ in $(seq 200); do [[ -f "$tmp/hang/latest.safetensors" ]] && break; sleep 0.1; done
victim=$(rank_pid "$tmp/hang" 1)
t1=$(date +%s%N)
[[ -n "$victim" ]] && kill -STOP "$victim"
set +e; wait "$pid"; rc=$?; set -e
line=$(grep -m1 "no progress for" "$tmp/hang.err" || true)
[[ -n "$victim" ]] && kill -CONT "$victim" 2>/dev/null || true
if [[ -n "$victim" && $rc -ne 0 && "$line" == *"waiting for rank 1 "* ]] && (( $(secs "$t1" | cut -d. -f1) < 20 )) && "$bin" info "$tmp/hang" | grep "latest.safetensors ok" >/dev/null; then
  ok "kill -STOP of rank 1 under srun: the step ended after $(secs "$t1")s (exit $rc): ${line:0:110}"
else bad "hang under srun: victim ${victim:-none}, exit $rc, $line"; tail -n 4 "$tmp/hang.err" || true; fi

t0=$(date +%s%N)
slurm_down
echo "# Slurm down in $(secs "$t0")s"
summary slurm
[[ $fail -eq 0 ]]
