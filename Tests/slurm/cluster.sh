# A throw-away one-node Slurm cluster for tests, from Debian's packages (slurmctld, slurmd, slurm-client,
# munge), run as root without systemd or cgroups. Source this file, then:
#
#   slurm_up DIR            write DIR/slurm.conf (and munge key, spool, state, logs, pid files) and start
#                           munged, slurmctld and slurmd; wait until the node is idle; export SLURM_CONF.
#                           Non-zero with one clear line on stderr (plus the daemon's last log lines) if
#                           it cannot. Ports are picked free, munged gets its own socket and key, so the
#                           cluster shares nothing with a system Slurm or with another test run.
#   slurm_down              cancel the cluster's jobs, `scontrol shutdown`, stop munged; every daemon by
#                           PID, with TERM then KILL if it lingers. Idempotent; safe from an EXIT trap:
#                             trap 'slurm_down' EXIT
#   slurm_wait_job ID SECS  poll until job ID has left the queue (no accounting here: squeue/scontrol);
#                           sets slurm_job_state (e.g. COMPLETED, FAILED, CANCELLED, TIMEOUT) and
#                           slurm_job_exit (e.g. 0:0); returns 1 if it is still queued after SECS.
#
# Robust against: calling slurm_up twice (the same DIR: kept; another DIR: the first cluster is stopped),
# a DIR holding stale pid files (PIDs are only signalled when /proc/PID/cmdline still names DIR), and
# daemons left over from an earlier run of this harness: in DIR, in a DIR that no longer exists, or in a
# DIR whose starting shell is gone (DIR/owner records its PID and start time). Clusters of other test
# runs that are still alive are never touched.
#
# The configuration (what was measured to work with slurm-wlm 22.05.8 on Debian 12):
#   SlurmUser=root, ProctrackType=proctrack/linuxproc, TaskPlugin=task/none (no cgroups), MpiDefault=pmix,
#   SelectType=select/cons_tres with CR_Core, no accounting, MailProg=/bin/true, the node line from
#   `slurmd -C` (at least 2 CPUs are declared, with SlurmdParameters=config_overrides, so 2-task jobs run on
#   a 1-CPU machine too), NodeAddr/SlurmctldHost 127.0.0.1 so the hostname need not resolve,
#   TmpFS=DIR/tmp (private to this cluster; PMIx uses it), AuthInfo cred_expire=5 (the minimum: a requeued
#   job starts again ~6 s after `scontrol requeue` instead of ~2 minutes), KillWait=5. Change settings with
#   e.g. `sed -i 's/^KillWait=.*/KillWait=2/' "$SLURM_CONF"; scontrol reconfigure`.
#
# munged runs as user munge (its socket directory must be searchable by everyone, so DIR is made
# mode 755). Without munge installed, or when munged cannot start, the cluster falls back to
# AuthType=auth/none + CredType=cred/none (fine on 22.05 for a private test cluster) and says so.
# Measured here (2 cores): bring-up 0.3-0.4 s (node idle ~0.2 s after slurmd starts), teardown 0.1-0.2 s.

_slurm_dir=""          # the running cluster's directory, "" when none
_slurm_pids=()         # PIDs this library started (munged slurmctld slurmd)

_slurm_log() { echo "slurm_up: $*" >&2; }

# PID is alive and its command line or environment names the directory $2
_slurm_pid_is_ours() {
  local pid=$1 dir=$2
  local args envs
  [[ "$pid" =~ ^[0-9]+$ && -d /proc/$pid ]] || return 1
  args=$(tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline") || true
  [[ "$args" == *"$dir/"* ]] && return 0
  envs=$(tr '\0' '\n' 2>/dev/null < "/proc/$pid/environ") || true
  [[ $'\n'"$envs"$'\n' == *$'\n'"SLURM_CONF=$dir/slurm.conf"$'\n'* ]]
}

# alive and not a zombie (an orphaned daemon's zombie may linger when PID 1 does not reap)
_slurm_running() { local st; st=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null) || true; [[ -n "$st" && "$st" != Z && "$st" != X ]]; }

# TERM, wait up to $1 tenths of a second, then KILL; only PIDs that still name DIR ($2)
_slurm_stop_pids() {
  local tenths=$1 dir=$2; shift 2
  local pid live=() i
  for pid in "$@"; do _slurm_pid_is_ours "$pid" "$dir" && live+=("$pid"); done
  [[ ${#live[@]} -gt 0 ]] || return 0
  kill -TERM "${live[@]}" 2>/dev/null || true
  for ((i = 0; i < tenths; i++)); do
    local any=0
    for pid in "${live[@]}"; do _slurm_running "$pid" && any=1; done
    [[ $any -eq 0 ]] && return 0
    sleep 0.1
  done
  for pid in "${live[@]}"; do _slurm_pid_is_ours "$pid" "$dir" && kill -KILL "$pid" 2>/dev/null; done
  return 0
}

# "PID STARTTIME" of process $1 (the start time tells a PID apart from a later process reusing it)
_slurm_proc_id() { local st f; st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; read -r -a f <<< "${st##*) }"; echo "$1 ${f[19]}"; }

# the shell that started the cluster in DIR $1 is gone (its DIR/owner names a process that no longer exists)
_slurm_abandoned() {
  local owner pid
  owner=$(cat "$1/owner" 2>/dev/null) || return 1
  pid=${owner%% *}
  [[ "$(_slurm_proc_id "$pid" || true)" != "$owner" ]]
}

# Daemons (munged, slurmctld, slurmd, slurmstepd) of this harness that belong to directory $1, or with
# $1 empty to any abandoned cluster: its directory no longer exists, or the shell that started it is gone
# (killed before its EXIT trap could run). Clusters of other live test runs are left alone.
_slurm_leftovers() {
  local want=$1 pid comm args dir
  for pid in $(pgrep -x 'munged|slurmctld|slurmd|slurmstepd' 2>/dev/null || true); do
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
    args=$(tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline") || continue
    dir=""
    case "$comm" in
      munged) [[ "$args" =~ --socket=([^ ]+)/munge/munge\.socket ]] && dir=${BASH_REMATCH[1]} ;;
      slurmctld|slurmd) [[ "$args" =~ -f\ ([^ ]+)/slurm\.conf ]] && dir=${BASH_REMATCH[1]} ;;
      slurmstepd) dir=$(tr '\0' '\n' 2>/dev/null < "/proc/$pid/environ" | sed -n 's|^SLURM_CONF=\(.*\)/slurm\.conf$|\1|p;T;q') || true ;;
    esac
    [[ -n "$dir" ]] || continue
    if [[ -n "$want" && "$dir" == "$want" ]] || { [[ -z "$want" ]] && { [[ ! -e "$dir" ]] || _slurm_abandoned "$dir"; }; }; then
      echo "$pid"
      [[ "$comm" == slurmstepd ]] && _slurm_descendants "$pid"   # the job's tasks
    fi
  done
  return 0
}

_slurm_descendants() {
  local c
  for c in $(pgrep -P "$1" 2>/dev/null || true); do echo "$c"; _slurm_descendants "$c"; done
}

# a TCP port nobody listens on (checked against /proc/net/tcp{,6}), below Linux's ephemeral range
_slurm_free_port() {
  local used p
  used=$(awk 'FNR > 1 && $4 == "0A" { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null) || true
  for _ in $(seq 200); do
    p=$((10000 + (RANDOM * 32768 + RANDOM) % 20000))
    grep -qx "$(printf '%04X' "$p")" <<< "$used" || { echo "$p"; return 0; }
  done
  return 1
}

_slurm_tail_logs() {
  local f
  for f in "$@"; do [[ -s "$f" ]] && { echo "--- last lines of $f:" >&2; tail -n 8 "$f" >&2; }; done
  return 0
}

# wait up to $2 tenths of a second for file $1 to exist and be non-empty
_slurm_wait_file() { local i; for ((i = 0; i < $2; i++)); do [[ -s "$1" ]] && return 0; sleep 0.1; done; return 1; }

# the controller of slurm.conf $1 answers
_slurm_ping() { local out; out=$(SLURM_CONF=$1 timeout 10 scontrol ping 2>/dev/null) || true; [[ "$out" == *UP* ]]; }

slurm_up() {
  local dir=${1:-}
  [[ -n "$dir" ]] || { _slurm_log "usage: slurm_up DIR"; return 2; }
  mkdir -p "$dir" || { _slurm_log "cannot create $dir"; return 1; }
  dir=$(cd "$dir" && pwd -P)

  if [[ -n "$_slurm_dir" ]]; then
    if [[ "$_slurm_dir" == "$dir" ]] && _slurm_ping "$dir/slurm.conf"; then
      export SLURM_CONF="$dir/slurm.conf"; return 0
    fi
    slurm_down
  fi

  local c
  for c in slurmctld slurmd scontrol sinfo squeue srun sbatch scancel; do
    command -v "$c" >/dev/null || { _slurm_log "$c not found: apt-get install --no-install-recommends slurmd slurmctld slurm-client munge"; return 1; }
  done
  [[ $(id -u) -eq 0 ]] || { _slurm_log "must run as root (slurmd runs jobs as their user)"; return 1; }

  # leftovers: daemons of an earlier run in this DIR (stale pid files or not), and of removed DIRs
  local old pid mine=()
  old=$( { cat "$dir"/pids 2>/dev/null || true; _slurm_leftovers "$dir"; } | sort -u) || true
  for pid in $old; do _slurm_pid_is_ours "$pid" "$dir" && mine+=("$pid"); done
  if [[ ${#mine[@]} -gt 0 ]]; then _slurm_log "stopping daemons left over in $dir: ${mine[*]}"; _slurm_stop_pids 50 "$dir" "${mine[@]}"; fi
  old=$(_slurm_leftovers "") || true
  if [[ -n "$old" ]]; then
    _slurm_log "stopping daemons left over by an earlier run that is gone: ${old//$'\n'/ }"
    # shellcheck disable=SC2086
    kill -KILL $old 2>/dev/null || true
  fi
  rm -rf "$dir/state" "$dir/spool" "$dir/tmp" "$dir/munge" "$dir/pids" "$dir"/*.pid "$dir"/*.log
  mkdir -p "$dir/state" "$dir/spool" "$dir/tmp"
  chmod 755 "$dir"
  _slurm_proc_id $$ > "$dir/owner"

  # munge, as user munge, with its own key and socket; else auth/none
  local auth="munge" why=""
  if ! command -v munged >/dev/null; then why="munged not installed"
  elif ! id munge >/dev/null 2>&1; then why="no user munge"
  fi
  if [[ -z "$why" ]]; then
    mkdir -p "$dir/munge"
    head -c 1024 /dev/urandom > "$dir/munge/munge.key"
    chown -R munge:munge "$dir/munge"; chmod 755 "$dir/munge"; chmod 400 "$dir/munge/munge.key"
    if ! runuser -u munge -- test -x "$dir/munge"; then
      why="user munge cannot reach $dir (a parent directory is not searchable)"
    else
      runuser -u munge -- munged --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" \
        </dev/null >/dev/null 2>&1 || true
      if _slurm_wait_file "$dir/munge/munged.pid" 50 && [[ -S "$dir/munge/munge.socket" ]]; then
        _slurm_pids+=("$(cat "$dir/munge/munged.pid")")
        echo "${_slurm_pids[-1]}" >> "$dir/pids"
      else
        why="munged did not start: $(tail -n1 "$dir/munge/munged.log" 2>/dev/null)"
      fi
    fi
  fi
  if [[ -n "$why" ]]; then _slurm_log "$why; using AuthType=auth/none"; auth="none"; fi

  # node line: this machine as slurmd sees it, at least 2 CPUs
  local node cpus mem host
  node=$(slurmd -C 2>/dev/null) || true; node=${node%%$'\n'*}
  host=$(sed -n 's/^NodeName=\([^ ]*\).*/\1/p' <<< "$node"); [[ -n "$host" ]] || host=$(hostname -s)
  cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<< "$node"); [[ -n "$cpus" ]] || cpus=$(nproc)
  mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<< "$node"); [[ -n "$mem" ]] || mem=1000
  if [[ $cpus -ge 2 && "$node" == NodeName=* ]]; then
    node="$node NodeAddr=127.0.0.1"
  else
    node="NodeName=$host NodeAddr=127.0.0.1 CPUs=2 RealMemory=$mem"
  fi

  local p1 p2
  if ! p1=$(_slurm_free_port) || ! p2=$(_slurm_free_port); then _slurm_log "no free TCP port"; return 1; fi
  [[ "$p1" != "$p2" ]] || p2=$((p1 + 1))
  local authinfo="cred_expire=5" authtype="auth/munge" credtype="cred/munge"
  if [[ $auth == munge ]]; then authinfo="socket=$dir/munge/munge.socket,$authinfo"
  else authtype="auth/none"; credtype="cred/none"; fi

  cat > "$dir/slurm.conf" <<EOF
# written by Tests/slurm/cluster.sh: a throw-away one-node test cluster
ClusterName=ddplmtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$p1
SlurmdPort=$p2
SlurmUser=root
SlurmdUser=root
AuthType=$authtype
CredType=$credtype
AuthInfo=$authinfo
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
TmpFS=$dir/tmp
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=pmix
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
SlurmdParameters=config_overrides
KillWait=5
MinJobAge=600
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
$node State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF

  # Inherited job variables (SLURM_JOB_ID, ...) would make srun/sbatch act inside an outer job: drop them.
  # Our daemons and the jobs they start carry SLURM_CONF, so their steps can be found later.
  # shellcheck disable=SC2046  # (names of variables: no spaces)
  unset $(compgen -e | grep -E '^SLURM_' | grep -vx SLURM_CONF) 2>/dev/null || true
  export SLURM_CONF="$dir/slurm.conf"
  if ! slurmctld -f "$SLURM_CONF" -c -i </dev/null >>"$dir/slurmctld.log" 2>&1 || ! _slurm_wait_file "$dir/slurmctld.pid" 100; then
    _slurm_log "slurmctld did not start"; _slurm_tail_logs "$dir/slurmctld.log"
    _slurm_dir=$dir; slurm_down; return 1
  fi
  _slurm_pids+=("$(cat "$dir/slurmctld.pid")"); echo "${_slurm_pids[-1]}" >> "$dir/pids"
  _slurm_dir=$dir
  if ! slurmd -f "$SLURM_CONF" -c </dev/null >>"$dir/slurmd.log" 2>&1 || ! _slurm_wait_file "$dir/slurmd.pid" 100; then
    _slurm_log "slurmd did not start"; _slurm_tail_logs "$dir/slurmd.log"
    slurm_down; return 1
  fi
  _slurm_pids+=("$(cat "$dir/slurmd.pid")"); echo "${_slurm_pids[-1]}" >> "$dir/pids"

  local i state="" dead=""
  for ((i = 0; i < 300; i++)); do
    state=$(timeout 5 sinfo -h -N -n "$host" -o %T 2>/dev/null) || true; state=${state%%$'\n'*}
    [[ "$state" == idle ]] && break
    _slurm_running "${_slurm_pids[-2]}" || { dead=slurmctld; break; }
    _slurm_running "${_slurm_pids[-1]}" || { dead=slurmd; break; }
    sleep 0.1
  done
  if [[ "$state" != idle ]]; then
    if [[ -n "$dead" ]]; then _slurm_log "$dead exited during start-up"
    else _slurm_log "node $host is '${state:-unknown}', not idle, 30 s after start"; fi
    _slurm_tail_logs "$dir/slurmctld.log" "$dir/slurmd.log"
    slurm_down; return 1
  fi
  return 0
}

slurm_down() {
  local dir=$_slurm_dir
  [[ -n "$dir" ]] || return 0
  local conf="$dir/slurm.conf"
  if [[ -f "$conf" ]] && _slurm_ping "$conf"; then
    local jobs i
    jobs=$(SLURM_CONF=$conf timeout 5 squeue -h -o %i 2>/dev/null) || true
    if [[ -n "$jobs" ]]; then
      # shellcheck disable=SC2086  # one job id per word
      SLURM_CONF=$conf timeout 5 scancel --full $jobs 2>/dev/null || true
      for ((i = 0; i < 100; i++)); do
        [[ -z $(SLURM_CONF=$conf timeout 5 squeue -h -o %i 2>/dev/null || true) ]] && break
        sleep 0.1
      done
    fi
    SLURM_CONF=$conf timeout 10 scontrol shutdown >/dev/null 2>&1 || true
  fi
  # slurmctld/slurmd exit on shutdown; TERM/KILL whatever is left, then munged and stray slurmstepds
  local pids
  pids=$( { printf '%s\n' "${_slurm_pids[@]}"; cat "$dir/pids" 2>/dev/null || true; _slurm_leftovers "$dir"; } | grep -E '^[0-9]+$' | sort -u) || true
  # shellcheck disable=SC2086
  _slurm_stop_pids 100 "$dir" $pids
  _slurm_pids=()
  rm -f "$dir/pids" "$dir/owner"
  _slurm_dir=""
  [[ "${SLURM_CONF:-}" == "$conf" ]] && unset SLURM_CONF
  return 0
}

# shellcheck disable=SC2034  # slurm_job_state and slurm_job_exit are for the caller
slurm_wait_job() {
  local id=${1:-} secs=${2:-60} line state="" t_end
  slurm_job_state=""; slurm_job_exit=""
  [[ "$id" =~ ^[0-9]+$ ]] || { echo "slurm_wait_job: not a job id: '$id'" >&2; return 2; }
  t_end=$(( $(date +%s%N) / 1000000 + secs * 1000 ))
  while :; do
    line=$(timeout 5 scontrol -o show job "$id" 2>/dev/null) || true
    state=$(sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' <<< "$line") || true
    if [[ -z "$line" ]]; then slurm_job_state="GONE"; return 0; fi   # purged (MinJobAge) or unknown
    case "$state" in
      PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED|REQUEUED|REQUEUE_HOLD|REQUEUE_FED|RESIZING|SIGNALING|STAGE_OUT|STOPPED) ;;
      *) slurm_job_state=$state; slurm_job_exit=$(sed -n 's/.* ExitCode=\([0-9:]*\).*/\1/p' <<< "$line"); return 0 ;;
    esac
    (( $(date +%s%N) / 1000000 < t_end )) || { slurm_job_state=$state; return 1; }
    sleep 0.2
  done
}
