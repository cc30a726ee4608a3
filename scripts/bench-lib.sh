# Shared by scripts/bench.sh, bench-memory.sh, bench-startup.sh and bench-defaults-ab.sh; sourced,
# not run. Logging, free loopback ports, waiting for a log line, whether a process is alive, its
# resident memory, and the clean-up of every process a script started (add each PID to pids; the
# script sets tmp, a directory of its own, before it can exit, and then: trap cleanup EXIT).
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

pids=()
cleanup() { # SIGTERM to every process in pids, then the temporary directory (BENCH_KEEP_TMP=1 keeps it)
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  [[ -n ${tmp:-} ]] || return 0
  if [[ ${BENCH_KEEP_TMP:-0} == 1 ]]; then log "logs kept in $tmp"; else rm -rf "$tmp"; fi
}

used_ports=""
free_port() { # a TCP port nothing listens on and this script has not handed out yet
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 10000))
    grep -q ":$(printf '%04X' "$p") " /proc/net/tcp /proc/net/tcp6 2>/dev/null && continue
    (exec 5<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    [[ " $used_ports " == *" $p "* ]] && continue
    used_ports+=" $p"; echo "$p"; return 0
  done
  die "no free port"
}

wait_for_log() { # FILE TEXT [SECONDS, default 30]: until FILE has TEXT, or die with its end
  local deadline=$(( $(date +%s) + ${3:-30} ))
  until grep -q "$2" "$1" 2>/dev/null; do
    [[ $(date +%s) -lt $deadline ]] || { tail -n 40 "$1" >&2; die "'$2' never appeared in $1"; }
    sleep 0.05
  done
}

alive() { [[ -e /proc/$1 ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
