#!/usr/bin/env bash
# Memory as a user sees it: the resident memory (VmRSS from /proc/PID/status, read as
# it is, no garbage collection forced) of proxy, app and the direct app, started by the launchers
# with their default JVM options, idle and with N connections held; and the server CPU per
# connection of the handoff pair and of the direct app at the same time, so that a memory setting
# that costs CPU shows.
#
#   scripts/bench-memory.sh [--hold 10000] [--seconds 3] [--warmup 3] [--rounds 1]
#       [--proxy-opts "..."] [--app-opts "..."] [--launcher FILE]
#
# --proxy-opts / --app-opts: JAVA_OPTS for the proxy / for both apps (they come after the
# launcher's defaults, so each overrides one); without them JAVA_OPTS from the environment applies
# to all three. --launcher: another launch.sh to run the jars with (e.g. an older one, for a
# before/after comparison: git show REV:scripts/launch.sh >/tmp/old-launch.sh).
#
# Targets, all on 127.0.0.1: direct = scripts/app --direct-port P (the same engine accepting its
# own connections) and handoff = scripts/proxy + scripts/app. Steps: each target warms up with
# scenario 1 of the suite (connect, echo 32 bytes, close, 32 in flight) for WARMUP s; then the
# measured connection rate (SECONDS s, with each server's CPU over the window, per connection);
# after 3 s of quiet the idle VmRSS; then the load generator holds N connections on one target
# (each echoed once) and the held VmRSS is read 2 s after the last one is held; then on the other.
# Also prints the committed heap and metaspace without a GC (jcmd GC.heap_info) to explain the
# figures. Needs the jars (mvn -DskipTests package) and ulimit -n 20000. Every load run is bounded
# in time (timeout) and count.
set -uo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
# shellcheck source=scripts/bench-lib.sh
source "$root/scripts/bench-lib.sh"
hold=10000; seconds=3; warmup=3; rounds=1; launcher=$root/scripts/launch.sh
proxy_opts=${JAVA_OPTS:-}; app_opts=${JAVA_OPTS:-}
while [[ $# -gt 0 ]]; do
  case $1 in
    --hold) hold=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --proxy-opts) proxy_opts=$2; shift ;;
    --app-opts) app_opts=$2; shift ;;
    --launcher) launcher=$(readlink -f "$2"); shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-memory.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $hold =~ ^[1-9][0-9]*$ && $hold -le 10000 && $rounds =~ ^[1-9]$ ]] ||
  { echo "bench-memory.sh: --hold 1-10000, --rounds 1-9" >&2; exit 2; }
for jar in app/target/handoff-app.jar proxy/target/handoff-proxy.jar bench/target/handoff-bench.jar; do
  [[ -f $root/$jar ]] || die "$jar is missing: build first (mvn -DskipTests package)"
done
[[ -f $launcher ]] || die "no launcher $launcher"
ulimit -n 20000 2>/dev/null || die "cannot raise the open-file limit to 20000 (hard limit $(ulimit -Hn))"

tmp=$(mktemp -d /tmp/handoff-memory.XXXXXX)
# The launchers run from a copy next to the jars' modules, so that --launcher can swap launch.sh;
# the copy's lookup (../MODULE/target/handoff-ROLE.jar) finds the built jars through symlinks.
dist=$tmp/dist; mkdir -p "$dist/scripts"
cp "$root/scripts/app" "$root/scripts/proxy" "$dist/scripts/" && cp "$launcher" "$dist/scripts/launch.sh" && chmod +x "$dist/scripts/launch.sh" || exit 1
ln -s "$root/app" "$dist/app" && ln -s "$root/proxy" "$dist/proxy" || exit 1
trap cleanup EXIT
trap 'exit 130' INT TERM
# Committed heap and metaspace as the JVM reports them, without forcing a collection.
heap_info() { # PID
  timeout 30 jcmd "$1" GC.heap_info 2>/dev/null | awk '
    /total [0-9]+K, used/ { for (i = 1; i <= NF; i++) if ($i == "total") t += $(i + 1) }
    /Metaspace/ { for (i = 1; i <= NF; i++) if ($i == "committed") m = $(i + 1) }
    END { printf "heap committed %dK, metaspace committed %s", t, m }' | tr -d ','
}

direct_port=$(free_port); handoff_port=$(free_port)
JAVA_OPTS=$app_opts "$dist/scripts/app" --direct-port "$direct_port" "$tmp/direct.sock" >"$tmp/direct.log" 2>&1 &
direct_pid=$!; pids+=("$direct_pid")
JAVA_OPTS=$app_opts "$dist/scripts/app" "$tmp/handoff.sock" >"$tmp/app.log" 2>&1 &
app_pid=$!; pids+=("$app_pid")
wait_for_log "$tmp/direct.log" "accepting TCP directly" 60
wait_for_log "$tmp/app.log" "for proxy links" 60
JAVA_OPTS=$proxy_opts "$dist/scripts/proxy" --bind 127.0.0.1 "$handoff_port" "$tmp/handoff.sock" >"$tmp/proxy.log" 2>&1 &
proxy_pid=$!; pids+=("$proxy_pid")
wait_for_log "$tmp/proxy.log" "linked to app" 60
log "direct app pid $direct_pid port $direct_port; proxy pid $proxy_pid port $handoff_port, app pid $app_pid"
log "proxy: $(tr '\0' ' ' </proc/$proxy_pid/cmdline | sed 's/ -jar .*//')"
log "app:   $(tr '\0' ' ' </proc/$app_pid/cmdline | sed 's/ -jar .*//')"

loadgen() { # TIMEOUT ARGS...
  local limit=$1; shift
  timeout -k 5 "$limit" java -XX:+UseSerialGC -Xms64m -Xmx512m -cp "$root/bench/target/handoff-bench.jar" \
    dev.handoff.bench.LoadGen "$@" --host 127.0.0.1
}
val() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1" | head -n 1; }
per_conn() { awk -v c="$1" -v n="$2" 'BEGIN { if (c == "" || n == "" || n == 0) print "-"; else printf "%.1f", c * 1000 / n }'; }
mb() { awk -v k="$1" 'BEGIN { if (k == "") print "-"; else printf "%.1f", k / 1024 }'; }

for round in $(seq 1 "$rounds"); do
  log "round $round: warm-up ${warmup} s and measured connection rate ${seconds} s per target"
  declare -A rate cpu
  for t in direct handoff; do
    if [[ $t == direct ]]; then port=$direct_port cpu_of="app:$direct_pid"; else port=$handoff_port cpu_of="proxy:$proxy_pid,app:$app_pid"; fi
    out=$(loadgen $(( ${warmup%.*} + ${seconds%.*} + 60 )) connrate --port "$port" --inflight 32 --size 32 \
      --seconds "$seconds" --warmup "$warmup" --cpu "$cpu_of") || die "connrate on $t: $out"
    rate[$t]=$(val "$out" rate)
    if [[ $t == direct ]]; then
      cpu[direct]=$(per_conn "$(val "$out" cpu_ms.app)" "$(val "$out" connections)")
    else
      cpu[proxy]=$(per_conn "$(val "$out" cpu_ms.proxy)" "$(val "$out" connections)")
      cpu[app]=$(per_conn "$(val "$out" cpu_ms.app)" "$(val "$out" connections)")
    fi
  done
  sleep 3
  declare -A idle held info
  for p in proxy:$proxy_pid app:$app_pid direct:$direct_pid; do idle[${p%%:*}]=$(rss_kb "${p#*:}"); done
  for t in handoff direct; do
    if [[ $t == direct ]]; then port=$direct_port watch="direct:$direct_pid"; else port=$handoff_port watch="proxy:$proxy_pid app:$app_pid"; fi
    release=$tmp/release.$t.$round; out=$tmp/hold.$t.$round
    loadgen 300 hold --port "$port" --conns "$hold" --max-connecting 256 --size 16 \
      --release-file "$release" --hold-timeout 120 >"$out" 2>"$out.err" &
    lg=$!
    for _ in $(seq 1 1500); do grep -q '^HELD' "$out" && break; alive "$lg" || break; sleep 0.1; done
    sleep 2
    for p in $watch; do
      held[${p%%:*}]=$(rss_kb "${p#*:}"); info[${p%%:*}]=$(heap_info "${p#*:}")
    done
    touch "$release"
    wait "$lg" || log "hold on $t: load generator exit code $?"
    log "hold on $t: $(grep -h '^HELD\|^RESULT' "$out" | grep -o ' held=[0-9]*\| echoed=[0-9]*\| failed=[0-9]*' | sort -u | tr '\n' ' ')"
    sleep 2
  done
  echo "round $round: VmRSS, MB (no GC forced); server CPU per connection at the connection-rate load"
  printf '  %-7s idle %7s   %s held %7s   %s\n' proxy "$(mb "${idle[proxy]}")" "$hold" "$(mb "${held[proxy]}")" "${info[proxy]}"
  printf '  %-7s idle %7s   %s held %7s   %s\n' app "$(mb "${idle[app]}")" "$hold" "$(mb "${held[app]}")" "${info[app]}"
  printf '  %-7s idle %7s   %s held %7s   %s\n' direct "$(mb "${idle[direct]}")" "$hold" "$(mb "${held[direct]}")" "${info[direct]}"
  echo "  conn/s: direct ${rate[direct]}, handoff ${rate[handoff]}; CPU µs per connection: direct ${cpu[direct]}, handoff $(awk -v a="${cpu[proxy]}" -v b="${cpu[app]}" 'BEGIN { printf "%.1f", a + b }') (proxy ${cpu[proxy]} + app ${cpu[app]})"
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
