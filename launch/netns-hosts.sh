# Sourced by launch/test-multihost and launch/bench-scaleout (not run): N "hosts" on one machine.
# Host i is a network namespace "$NETNS_TAG-hi" with its own /etc/hosts (and its own hostname, via a UTS
# namespace, for each command run in it) at 10.77.0.i/24. Two hosts are joined by one veth pair; more
# hosts each have a veth pair to a bridge in a namespace of its own ("$NETNS_TAG-sw", the switch).
# mpirun runs on h1 and starts the other ranks through an rsh agent that enters the host's namespaces
# instead of ssh-ing, so the ranks really talk over TCP between "hosts" (btl tcp, pinned to the veths).
#
#   netns_up N            bring up h1..hN; on failure returns 1 with the reason in $NETNS_WHY
#   netns_mpirun ARGS...  mpirun -np N on h1 across the hosts (timeout $NETNS_TIMEOUT s, default 120;
#                         extra mpirun options in the array NETNS_MPIRUN_OPTS)
#   netns_shape RATE [DELAY_US]   tc on every link end: each direction of each host's link gets RATE
#                         (tc syntax, e.g. 10gbit; "" = unshaped) and, where sch_netem exists, DELAY_US
#                         one-way added latency; returns 2 when a delay was asked and netem is missing
#   netns_tx_bytes I      bytes host I has sent on its link
#   netns_down            remove everything (call it from an EXIT trap)
# Needs root, iproute2 (ip; tc for netns_shape), unshare and mpirun.

NETNS_TAG="ddplm$$"
NETNS_HOSTS=0
NETNS_TMP=""
NETNS_WHY=""

netns_name() { echo "$NETNS_TAG-h$1"; }

netns_down() {
  local ns
  for ns in $(ip netns list 2>/dev/null | awk -v t="$NETNS_TAG-" 'index($1, t) == 1 { print $1 }'); do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "/etc/netns/$ns"
  done
  [[ -n "$NETNS_TMP" ]] && rm -rf "$NETNS_TMP"
  NETNS_HOSTS=0
}

netns_up() {
  local n=$1 i ns
  NETNS_WHY=""
  if [[ $(id -u) -ne 0 ]]; then NETNS_WHY="needs root to create network namespaces"; return 1; fi
  local tool
  for tool in ip unshare mpirun; do
    command -v "$tool" >/dev/null || { NETNS_WHY="$tool is not installed"; return 1; }
  done
  NETNS_TMP=$(mktemp -d /tmp/ddplm-netns.XXXXXX)
  ip netns add "$(netns_name 1)" 2>/dev/null || { NETNS_WHY="cannot create network namespaces here (ip netns add failed)"; return 1; }
  for ((i = 2; i <= n; i++)); do ip netns add "$(netns_name "$i")"; done
  if ((n == 2)); then
    ip link add "$NETNS_TAG-v1" type veth peer name "$NETNS_TAG-v2" 2>/dev/null || { NETNS_WHY="cannot create veth pairs here"; return 1; }
    ip link set "$NETNS_TAG-v1" netns "$(netns_name 1)"
    ip link set "$NETNS_TAG-v2" netns "$(netns_name 2)"
  else
    local sw="$NETNS_TAG-sw"
    ip netns add "$sw"
    ip -n "$sw" link add br0 type bridge 2>/dev/null || { NETNS_WHY="cannot create a bridge here (for more than 2 hosts)"; return 1; }
    ip -n "$sw" link set lo up
    ip -n "$sw" link set br0 up
    for ((i = 1; i <= n; i++)); do
      ip link add "$NETNS_TAG-v$i" type veth peer name "$NETNS_TAG-p$i" 2>/dev/null || { NETNS_WHY="cannot create veth pairs here"; return 1; }
      ip link set "$NETNS_TAG-v$i" netns "$(netns_name "$i")"
      ip link set "$NETNS_TAG-p$i" netns "$sw"
      ip -n "$sw" link set "$NETNS_TAG-p$i" master br0
      ip -n "$sw" link set "$NETNS_TAG-p$i" up
    done
  fi
  local hosts="127.0.0.1 localhost"$'\n'
  for ((i = 1; i <= n; i++)); do hosts+="10.77.0.$i h$i"$'\n'; done
  for ((i = 1; i <= n; i++)); do
    ns=$(netns_name "$i")
    ip -n "$ns" addr add "10.77.0.$i/24" dev "$NETNS_TAG-v$i"
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "$NETNS_TAG-v$i" up
    # NETNS_IDLE_SLOW_START=0: TCP keeps its window across the compute's idle gap, as HPC hosts are often
    # tuned (net.ipv4.tcp_slow_start_after_idle=0); the default keeps Linux's default (1)
    [[ -n "${NETNS_IDLE_SLOW_START:-}" ]] && ip netns exec "$ns" sysctl -qw "net.ipv4.tcp_slow_start_after_idle=$NETNS_IDLE_SLOW_START"
    mkdir -p "/etc/netns/$ns"   # ip netns exec bind-mounts these over /etc
    printf '%s' "$hosts" > "/etc/netns/$ns/hosts"
  done
  NETNS_HOSTS=$n
  # h1 reaches every other host (bash's /dev/tcp to a closed port: "refused" proves the path works)
  # (a new bridge port may take a moment to forward: retry for up to 5 s)
  local try
  for ((i = 2; i <= n; i++)); do
    for ((try = 0; ; try++)); do
      [[ $(ip netns exec "$(netns_name 1)" timeout 1 bash -c "exec 3<>/dev/tcp/10.77.0.$i/9" 2>&1 || true) == *refused* ]] && break
      ((try < 25)) || { NETNS_WHY="the link between the namespaces does not pass traffic (h1 → h$i)"; return 1; }
      sleep 0.2
    done
  done

  # rsh agent: OpenMPI calls "agent [ssh options] HOST COMMAND..."; enter HOST's namespaces instead of ssh
  cat > "$NETNS_TMP/agent" <<AGENT
#!/bin/bash
while [[ "\$1" == -* ]]; do shift; done
host=\$1; shift
exec ip netns exec "$NETNS_TAG-\$host" unshare --uts /bin/bash -c "hostname \$host; exec \$*"
AGENT
  chmod +x "$NETNS_TMP/agent"
  : > "$NETNS_TMP/hostfile"
  for ((i = 1; i <= n; i++)); do echo "h$i slots=1" >> "$NETNS_TMP/hostfile"; done
}

netns_mpirun() {
  local ns1
  ns1=$(netns_name 1)
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
  timeout "${NETNS_TIMEOUT:-120}" ip netns exec "$ns1" unshare --uts /bin/bash -c 'hostname h1; exec "$@"' _ \
    mpirun -np "$NETNS_HOSTS" --hostfile "$NETNS_TMP/hostfile" --mca plm_rsh_agent "$NETNS_TMP/agent" \
      --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
      --bind-to none "${NETNS_MPIRUN_OPTS[@]}" \
      -x OPENBLAS_NUM_THREADS=1 -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM "$@"
}

# The link ends: host i's own veth (what it sends), and the other end (what it receives: the peer's
# veth for two hosts, the switch port otherwise). Prints "namespace device" pairs, one a line.
netns_link_ends() {
  local i
  for ((i = 1; i <= NETNS_HOSTS; i++)); do
    echo "$(netns_name "$i") $NETNS_TAG-v$i"
    ((NETNS_HOSTS > 2)) && echo "$NETNS_TAG-sw $NETNS_TAG-p$i"
  done
}

netns_have_netem() {
  local ns=$NETNS_TAG-probe ok=1
  ip netns add "$ns" 2>/dev/null || return 1
  ip -n "$ns" link add pa type veth peer name pb 2>/dev/null && tc -n "$ns" qdisc add dev pa root netem delay 1us 2>/dev/null && ok=0
  ip netns del "$ns" 2>/dev/null
  return $ok
}

netns_shape() {
  local rate=$1 delay=${2:-0} netem=0 rc=0 ns dev
  if [[ "$delay" != 0 ]]; then
    if netns_have_netem; then netem=1; else rc=2; fi
  fi
  # a sender's own veth adds the delay (once per direction); the switch ports only limit the rate
  while read -r ns dev; do
    tc -n "$ns" qdisc del dev "$dev" root 2>/dev/null || true
    local delay_here=0
    [[ $netem -eq 1 && ( $NETNS_HOSTS -eq 2 || "$ns" != "$NETNS_TAG-sw" ) ]] && delay_here=$delay
    if [[ -n "$rate" ]]; then
      # burst: 200 µs at the rate, at least 128 KiB, so that tbf passes the veth's 64 KiB GSO packets
      # whole instead of cutting them up (costly in CPU); tbf charges every segment's TCP/IP header
      # against the rate either way (Ethernet framing, ~2.6% at MTU 1500, is not charged)
      local bits burst
      bits=$(numfmt --from=si "$(tr gmk GMK <<< "${rate%bit}")")
      burst=$(( bits / 8 / 5000 )); (( burst < 131072 )) && burst=131072
      tc -n "$ns" qdisc add dev "$dev" root handle 1: tbf rate "$rate" burst "$burst" latency 50ms
      [[ $delay_here != 0 ]] && tc -n "$ns" qdisc add dev "$dev" parent 1:1 handle 10: netem delay "${delay_here}us" limit 100000
    elif [[ $delay_here != 0 ]]; then
      tc -n "$ns" qdisc add dev "$dev" root handle 10: netem delay "${delay_here}us" limit 100000
    fi
  done < <(netns_link_ends)
  return $rc
}

netns_tx_bytes() { ip netns exec "$(netns_name "$1")" cat "/sys/class/net/$NETNS_TAG-v$1/statistics/tx_bytes"; }
