#!/usr/bin/env bash
# The benchmark suite: the handoff against a server that accepts its own connections and
# against a relaying proxy, side by side in one run, all on 127.0.0.1.
#
#   scripts/bench.sh                 the full suite, about 20 minutes on 2 cores
#   scripts/bench.sh --quick         a shorter run to try it out (figures are rough)
#   options: --rounds N (3)  --seconds S per measurement (3)  --warmup S (1)  --hold N (10000)
#            --jit-warmup S (20: scenario 1 on each target before the first round, not counted)
#            --no-jmh  (skip the microbenchmarks)   --no-doc  (do not write docs/PERFORMANCE.md)
#
# Installs haproxy (Debian package) when it is missing, and builds the project
# (mvn -q -B -ntp -DskipTests install) when a jar is missing or older than the sources. Then, under
# ulimit -n 20000, starts four targets (and, for scenario 7, a second proxy routing by server name):
#   direct   scripts/app --direct-port P: the app's own echo engine accepting TCP, no proxy
#   handoff  scripts/proxy + scripts/app, as users run them
#   relay    haproxy in TCP mode, forwarding to the direct app's port
#   nio      dev.handoff.bench.NioEcho: a plain JDK NIO echo, one selector thread, no framework:
#            the floor a Java user compares with
# and runs the load generator (bench/ module, dev.handoff.bench.LoadGen: one JDK NIO selector
# thread, every echoed byte verified) through the scenarios below, the targets interleaved within each
# round (direct handoff relay nio, direct handoff relay nio, ...):
#   1. connection rate: connect, echo 32 bytes, close, 32 in flight          (connections/s)
#   2. request/response: 64 persistent connections, 64-byte ping-pong        (round trips/s, RTT)
#   3. bulk: 4 connections streaming and reading back                        (MB/s echoed, 10^6 B)
#   4. concurrency: N connections held at once, each echoing before and after (RSS, heap per conn)
#   5. handoff latency at the scenario-1 load, from the app's own histogram (its shutdown line):
#      the handoff app serves the warm-up and scenario 1 only, then is stopped and a fresh one
#      started for the other scenarios (the proxy re-links to it by itself), warmed with as many
#      seconds of scenario 1 as the others had; before scenario 2, 2 s of it on every target
#   5b. handoff latency at fixed open-loop rates of 25, 50, 75 and 100 % of the direct app's
#      scenario-1 rate (LoadGen rate), from the Prometheus histogram of an app of its own
#   6. take-over: scripts/bench-startup.sh, after the other servers have stopped: successor
#      start-up (app --take-over to the first connection moved) side by side on this JDK and on
#      JDK 25 (BENCH_JDK25, default /usr/lib/jvm/temurin-25-jdk-amd64, with the AOT cache that
#      scripts/cds-archive.sh makes for it), the stall while connections move against steady load
#      just before (ratio), and the time to move --hold idle connections (--idle), and 5,000 idle
#      ones in as many rounds as the others (--quick: 1,000, once)
#   7. routing by TLS server name: a real ClientHello per connection, through the proxy without
#      routes and through a second proxy with --route sni:..., to the same app  (CPU/connection)
# It reports medians over the rounds and ratios to direct, the resident memory of proxy and app idle
# and with N connections held (VmRSS as it is, then after a full GC), and the open descriptors of every server before and after the suite;
# prints the table and writes docs/PERFORMANCE.md: the latest run only, as it is (nothing of an
# earlier file is kept). Every load run is bounded in time (timeout) and count.
#
# Environment: JAVA_OPTS is passed to proxy and app (e.g. -XX:StartFlightRecording=...);
# BENCH_CLIENT_OPTS to the load generator's JVM.
set -uo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
# shellcheck source=scripts/bench-lib.sh
source "$root/scripts/bench-lib.sh"
cd "$root" || exit 1
command_line="scripts/bench.sh${*:+ $*}"

rounds=3; seconds=3; warmup=1; jit_warmup=20; hold=10000; jmh=1; doc=1; quick=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) quick=1; rounds=2; seconds=1.5; warmup=0.5; jit_warmup=2; hold=2000 ;;
    --rounds) rounds=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --jit-warmup) jit_warmup=$2; shift ;;
    --hold) hold=$2; shift ;;
    --no-jmh) jmh=0 ;;
    --no-doc) doc=0 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $rounds =~ ^[1-9][0-9]?$ && $hold =~ ^[1-9][0-9]*$ && $hold -le 10000 && $jit_warmup =~ ^[1-9][0-9]?$ ]] ||
  { echo "bench.sh: --rounds 1-99, --hold 1-10000, --jit-warmup 1-99" >&2; exit 2; }

suite_start=$(date +%s)
cpu_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
busy_start=$(cpu_busy); load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# --- what the suite needs ---------------------------------------------------------------------
need=()
command -v haproxy >/dev/null || need+=(haproxy)
command -v mvn >/dev/null || need+=(maven)
command -v jcmd >/dev/null || need+=(openjdk-17-jdk-headless)
if [[ ${#need[@]} -gt 0 ]]; then
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo
  log "installing ${need[*]}"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends "${need[@]}" >/dev/null || die "apt-get install ${need[*]}"
fi
stale() { # JAR SOURCES...: the jar is missing or older than a source file or pom
  [[ -f $1 ]] || return 0
  local jar=$1; shift
  [[ -n $(find pom.xml "$@" -newer "$jar" -type f \( -path '*/src/main/*' -o -name pom.xml \) \
    2>/dev/null | head -n 1) ]]
}
if stale app/target/handoff-app.jar common app || stale proxy/target/handoff-proxy.jar common proxy ||
    stale bench/target/handoff-bench.jar common bench; then
  log "building: mvn -q -B -ntp -DskipTests install"
  mvn -q -B -ntp -DskipTests install >&2 || die "build"
fi
ulimit -n 20000 2>/dev/null || die "cannot raise the open-file limit to 20000 (hard limit $(ulimit -Hn))"

tmp=$(mktemp -d /tmp/handoff-bench.XXXXXX)
res=$tmp/results; mkdir -p "$res"
# Run copies of the launchers and of the load generator's jar, so that a rebuild during the suite
# cannot change them. The daemons' jars are linked, not copied: the launcher maps the class-data
# sharing archive made at package time for the jar it resolves, as a user's start does (a copy
# would start without it, with a few MB more metaspace; the suite measures memory as a user sees
# it). Do not rebuild while the suite runs.
dist=$tmp/dist; mkdir -p "$dist/scripts" "$dist/lib"
cp scripts/app scripts/proxy scripts/launch.sh "$dist/scripts/" &&
  ln -s "$PWD/app/target/handoff-app.jar" "$PWD/proxy/target/handoff-proxy.jar" "$dist/lib/" &&
  cp bench/target/handoff-bench.jar "$dist/lib/" || exit 1
trap cleanup EXIT
trap 'exit 130' INT TERM

direct_port=$(free_port); handoff_port=$(free_port); relay_port=$(free_port); sni_port=$(free_port)
nio_port=$(free_port)
declare -A port=([direct]=$direct_port [handoff]=$handoff_port [relay]=$relay_port [sni]=$sni_port
  [nio]=$nio_port)
targets=(direct handoff relay nio)

stop_proc() { # PID: SIGTERM, then up to 20 s, then SIGKILL; returns the exit code
  local pid=$1 rc p kept=()
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 200); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then kill -KILL "$pid" 2>/dev/null; log "pid $pid did not stop within 20 s; killed"; fi
  wait "$pid" 2>/dev/null; rc=$?
  for p in "${pids[@]}"; do [[ $p == "$pid" ]] || kept+=("$p"); done
  pids=("${kept[@]}")
  return $rc
}
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
heap_kb() { # PID: heap in use after a full GC, in KiB (jcmd GC.run, then GC.heap_info): the sum
  # over every line "total NK, used NK", one per generation under Serial GC (young, tenured)
  timeout 30 jcmd "$1" GC.heap_info 2>/dev/null | tr -d ',' | awk '
    /total [0-9]+K used [0-9]+K/ { for (i = 1; i < NF; i++) if ($i == "used") { u += $(i + 1); n++ } }
    END { if (n) print u + 0 }'
}
full_gc() { timeout 30 jcmd "$1" GC.run >/dev/null 2>&1; }
settle_fds() { # PID LIMIT: waits up to 10 s for the count to come down to LIMIT; prints it
  local n
  for _ in $(seq 1 100); do n=$(fds "$1"); [[ $n -le $2 ]] && break; sleep 0.1; done
  echo "$n"
}

start_app() { # NAME [OPTIONS...]: starts scripts/app on $tmp/NAME.sock; sets app_pid
  local name=$1; shift
  "$dist/scripts/app" "$@" "$tmp/$name.sock" >"$tmp/$name.log" 2>&1 &
  app_pid=$!; pids+=("$app_pid")
  wait_for_log "$tmp/$name.log" "for proxy links"
}

# --- the targets ------------------------------------------------------------------------------
log "direct: app --direct-port $direct_port"
start_app direct --direct-port "$direct_port"; direct_pid=$app_pid
wait_for_log "$tmp/direct.log" "accepting TCP directly"
log "handoff: app + proxy on port $handoff_port"
start_app handoff1; handoff_pid=$app_pid; handoff_log=$tmp/handoff1.log
"$dist/scripts/proxy" --bind 127.0.0.1 "$handoff_port" "$tmp/handoff1.sock" >"$tmp/proxy.log" 2>&1 &
proxy_pid=$!; pids+=("$proxy_pid")
wait_for_log "$tmp/proxy.log" "listening on"
# Scenario 7 only: a second proxy, routing by TLS server name, to the same app.
log "sni: a proxy on port $sni_port routing by server name (--route sni:...) to the same app"
"$dist/scripts/proxy" --bind 127.0.0.1 "$sni_port" --route "sni:bench.example=$tmp/handoff1.sock" \
  --route "default=$tmp/handoff1.sock" >"$tmp/proxy-sni.log" 2>&1 &
sni_proxy_pid=$!; pids+=("$sni_proxy_pid")
wait_for_log "$tmp/proxy-sni.log" "listening on"
log "relay: haproxy on port $relay_port -> $direct_port"
cat >"$tmp/haproxy.cfg" <<EOF
global
  # Each relayed connection costs haproxy two descriptors. It needs 2 x maxconn + 17 of them and
  # refuses to start if the open-file limit is lower: under the hard limit of 20,000 it can hold at
  # most 9,991 connections, so 10,000 cannot be relayed here; it holds what it can and the
  # load generator counts the rest as unfinished.
  maxconn $(( (20000 - 17) / 2 ))
defaults
  mode tcp
  timeout connect 5s
  timeout client 120s
  timeout server 120s
frontend relay
  bind 127.0.0.1:$relay_port backlog 1024
  default_backend echo
backend echo
  server direct 127.0.0.1:$direct_port
EOF
haproxy -db -f "$tmp/haproxy.cfg" >"$tmp/haproxy.log" 2>&1 &
haproxy_pid=$!; pids+=("$haproxy_pid")
for _ in $(seq 1 100); do (exec 5<>"/dev/tcp/127.0.0.1/$relay_port") 2>/dev/null && break; sleep 0.1; done
kill -0 "$haproxy_pid" 2>/dev/null || { cat "$tmp/haproxy.log" >&2; die "haproxy did not start"; }

# The NIO echo runs with the app's default collector and first heap (scripts/launch.sh), so that
# their CPU and memory compare.
log "nio: the JDK NIO echo (dev.handoff.bench.NioEcho) on port $nio_port"
java -XX:+UseSerialGC -Xms32m -cp "$dist/lib/handoff-bench.jar" dev.handoff.bench.NioEcho \
  --port "$nio_port" >"$tmp/nio.log" 2>&1 &
nio_pid=$!; pids+=("$nio_pid")
wait_for_log "$tmp/nio.log" "listening on"

client_opts=(-XX:+UseSerialGC -Xms64m -Xmx512m ${BENCH_CLIENT_OPTS:-})
loadgen() { # TIMEOUT ARGS...: the load generator, bounded in time
  local limit=$1; shift
  timeout -k 5 "$limit" java "${client_opts[@]}" -cp "$dist/lib/handoff-bench.jar" \
    dev.handoff.bench.LoadGen "$@" --host 127.0.0.1
}
run_limit=$(awk -v s="$seconds" -v w="$warmup" 'BEGIN { printf "%d", s + w + 40 }')

# The server processes of each target, whose CPU over each measured window the load generator
# reports (relay: haproxy forwards to the direct app, which does the echo).
cpu_of() { # TARGET
  case $1 in
    direct) echo "app:$direct_pid" ;;
    handoff) echo "proxy:$proxy_pid,app:$handoff_pid" ;;
    relay) echo "haproxy:$haproxy_pid,app:$direct_pid" ;;
    sni) echo "proxy:$sni_proxy_pid,app:$handoff_pid" ;;
    nio) echo "nio:$nio_pid" ;;
  esac
}

measure() { # SCENARIO TARGET ROUND ARGS...
  measure_as "$1" "$@"
}
measure_as() { # NAME SCENARIO TARGET ROUND ARGS...: results under NAME instead of SCENARIO
  local name=$1 scenario=$2 target=$3 round=$4; shift 4
  local out=$res/$name.$target.$round
  loadgen "$run_limit" "$scenario" --port "${port[$target]}" --seconds "$seconds" \
    --warmup "$warmup" --cpu "$(cpu_of "$target")" "$@" >"$out" 2>"$out.err"
  local rc=$?
  [[ $rc -eq 0 ]] || log "  $scenario $target round $round: exit code $rc$(grep -q mismatches=[1-9] "$out" && echo ' (WRONG BYTES ECHOED)')"
  log "  $scenario $target round $round: $(grep -o 'rate=[0-9.]*\|mbps=[0-9.]*\|rtt_p99_us=[0-9.]*\|errors=[0-9]*' "$out" | tr '\n' ' ')"
}

val() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$1" 2>/dev/null | head -n 1; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
med() { # SCENARIO TARGET KEY
  for r in $(seq 1 "$rounds"); do val "$res/$1.$2.$r" "$3"; done | grep . | median
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }
fmt() { awk -v v="$1" -v d="${2:-0}" 'BEGIN { if (v == "") print "-"; else printf "%.*f", d, v }'; }

# --- warm-up, then the descriptor counts "before" ---------------------------------------------
# Long enough for every server's JIT compilers to have compiled its connection path: the handoff
# app has more code on it than the direct one (the link, the header, the answers), and with 2 s its
# compiler threads still used more CPU per connection in round 1 than its event loops.
log "warm-up: ${jit_warmup} s of scenario 1 on each target"
for t in "${targets[@]}"; do
  loadgen $((jit_warmup + 40)) connrate --port "${port[$t]}" --seconds "$jit_warmup" --warmup 0 >"$tmp/warmup.$t" 2>&1 ||
    { cat "$tmp/warmup.$t" >&2; die "warm-up on $t"; }
done
grep -q "linked to app" "$tmp/proxy.log" || die "the proxy never linked to the app"
# jcmd (used for the heap figures) makes a JVM open its attach listener socket for good: open it
# now, so that it is in the "before" count.
for pid in "$proxy_pid" "$direct_pid" "$handoff_pid" "$nio_pid"; do timeout 30 jcmd "$pid" VM.uptime >/dev/null 2>&1; done
sleep 1
declare -A fd_before fd_after
fd_before[proxy]=$(fds "$proxy_pid"); fd_before[direct_app]=$(fds "$direct_pid")
fd_before[haproxy]=$(fds "$haproxy_pid"); fd_before[handoff_app1]=$(fds "$handoff_pid")

# --- scenario 1, and the handoff latency at its load ------------------------------------------
log "scenario 1: connection rate, 32 in flight, $rounds rounds"
for r in $(seq 1 "$rounds"); do
  for t in "${targets[@]}"; do measure connrate "$t" "$r" --inflight 32 --size 32; done
done
fd_after[handoff_app1]=$(settle_fds "$handoff_pid" "${fd_before[handoff_app1]}")
stop_proc "$handoff_pid"; rc=$?
latency_line=$(grep -o 'stopped: .*' "$handoff_log" | tail -n 1)
[[ $rc -eq 0 && -n $latency_line ]] || log "the first handoff app exited with $rc: $(tail -n 3 "$handoff_log")"
log "handoff app 1 $latency_line"

# The same proxy goes on; a fresh app takes the same socket path, and the proxy re-links by itself.
mv "$handoff_log" "$tmp/handoff1.done.log"
# A fresh app has missed the load that warmed the others' JIT (the first warm-up and scenario 1):
# it gets as many seconds of that load first, so that the scenarios after compare warmed servers
# (with 1 s, the fresh app's round trips cost 1.16x direct's in the suite, the same with equal
# warm-up: see scripts/bench-profile.sh --rr and docs/PERFORMANCE.md).
fresh_warmup=$(awk -v r="$rounds" -v s="$seconds" -v w="$warmup" -v j="$jit_warmup" 'BEGIN { printf "%d", j + r * (s + w) + 0.5 }')

# --- scenario 5b: the handoff latency at fixed rates --------------------------------------------
# Connections at a fixed open-loop rate (LoadGen rate) of 25, 50, 75 and 100 % of the rate the
# direct app sustained in scenario 1 (its median), through the proxy, to an app of its own started
# with --metrics: its Prometheus histogram of the handoff latency (accept to adopted) is read
# before and after each run, and the percentiles of the difference are the run's (the upper bound
# of the histogram bucket they fall in). The rates interleaved within each round; medians.
metrics_port=$(free_port)
direct_rate=$(med connrate direct rate)
scrape() { # FILE: the app's handoff latency buckets, "le count" per line (le in seconds)
  local fd
  exec {fd}<>"/dev/tcp/127.0.0.1/$metrics_port" || return 1
  printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&"$fd"
  timeout 10 cat <&"$fd" | tr -d '\r' |
    sed -n 's/^handoff_app_handoff_latency_seconds_bucket{.*le="\([^"]*\)".*} \([0-9.eE+-]*\)$/\1 \2/p' >"$1"
  exec {fd}>&-
}
bucket_pct() { # BEFORE AFTER Q: the Q quantile of the handoffs between the two scrapes, in µs
  awk -v q="$3" 'NR == FNR { before[$1] = $2; next }
    { le[n] = $1; c[n] = $2 - before[$1]; n++ }
    END { if (n == 0 || c[n - 1] <= 0) { print ""; exit }
          for (i = 0; i < n; i++) if (c[i] >= q * c[n - 1]) { if (le[i] == "+Inf") print "inf"; else printf "%.0f", le[i] * 1e6; exit } }' "$1" "$2"
}
rate_pcts=(25 50 75 100)
rate_warmup=5; [[ $quick == 1 ]] && rate_warmup=1
if [[ -n $direct_rate ]]; then
  start_app handoff1 --metrics "127.0.0.1:$metrics_port"; handoff_pid=$app_pid; handoff_log=$tmp/handoff1.log
  loadgen $((fresh_warmup + 40)) connrate --port "$handoff_port" --seconds "$fresh_warmup" --warmup 0 \
    >"$tmp/warmup.rates" 2>&1 || die "warm-up of the app for the fixed rates"
  log "scenario 5b: handoff latency at ${rate_pcts[*]} % of direct's $(fmt "$direct_rate") connections/s, $rounds rounds"
  for r in $(seq 1 "$rounds"); do
    for pct in "${rate_pcts[@]}"; do
      out=$res/rate$pct.handoff.$r
      rate=$(awk -v d="$direct_rate" -v p="$pct" 'BEGIN { printf "%.0f", d * p / 100 }')
      # The load generator first runs RATE_WARMUP s at the same rate, unmeasured: a fresh JVM,
      # its JIT compilers take CPU from the servers for the first seconds. The app's histogram is
      # read when it announces its measured window, and again once it has ended.
      loadgen $((run_limit + rate_warmup)) rate --port "$handoff_port" --rate "$rate" --seconds "$seconds" \
        --warmup "$rate_warmup" --max-inflight 2000 >"$out" 2>"$out.err" &
      rate_pid=$!
      for _ in $(seq 1 $(( (rate_warmup + 30) * 20 ))); do
        grep -q '^WINDOW started' "$out" 2>/dev/null && break
        alive "$rate_pid" || break
        sleep 0.05
      done
      scrape "$out.before" || log "  cannot read the app's metrics"
      wait "$rate_pid" || log "  rate $pct % round $r: exit code $?"
      scrape "$out.after"
      printf ' hist_p50_us=%s hist_p99_us=%s\n' "$(bucket_pct "$out.before" "$out.after" 0.50)" \
        "$(bucket_pct "$out.before" "$out.after" 0.99)" >>"$out"
      log "  rate $pct % ($rate/s) round $r: $(grep -o ' rate=[0-9.]*\| skipped=[0-9]*\| errors=[0-9]*\| hist_p[0-9]*_us=[0-9a-z]*' "$out" | tr -d '\n')"
    done
  done
  stop_proc "$handoff_pid"
  mv "$handoff_log" "$tmp/handoff1.rates.log"
else
  log "scenario 5b skipped: no connection rate of the direct app"
fi

start_app handoff1; handoff_pid=$app_pid; handoff_log=$tmp/handoff1.log
loadgen $((fresh_warmup + 40)) connrate --port "$handoff_port" --seconds "$fresh_warmup" --warmup 0 \
  >"$tmp/warmup.handoff2" 2>&1 || die "warm-up of the second handoff app"
timeout 30 jcmd "$handoff_pid" VM.uptime >/dev/null 2>&1
sleep 1
fd_before[handoff_app2]=$(fds "$handoff_pid")

# --- scenarios 2 and 3 ------------------------------------------------------------------------
log "scenario 2: request/response, 64 connections x 64 bytes, $rounds rounds"
for t in "${targets[@]}"; do # the same warm-up of this load for each target, none counted
  loadgen 60 rr --port "${port[$t]}" --conns 64 --size 64 --seconds 2 --warmup 0 \
    >"$tmp/warmup.rr.$t" 2>&1 || { cat "$tmp/warmup.rr.$t" >&2; die "scenario-2 warm-up on $t"; }
done
for r in $(seq 1 "$rounds"); do
  for t in "${targets[@]}"; do measure rr "$t" "$r" --conns 64 --size 64; done
done
log "scenario 3: bulk, 4 connections, $rounds rounds"
for r in $(seq 1 "$rounds"); do
  for t in "${targets[@]}"; do measure bulk "$t" "$r" --conns 4 --chunk 65536 --window 262144; done
done

# --- scenario 7: routing by TLS server name ------------------------------------------------------
# Each connection sends a real ClientHello (the JDK's, server name bench.example) and reads it back
# echoed: through the proxy without routes (port routing) and through the one with --route sni:,
# which peeks at it with MSG_PEEK before the handoff. Same app, same bytes.
loadgen 60 connrate --port "$sni_port" --seconds 2 --warmup 0 --tls-hello bench.example \
  >"$tmp/warmup.sni" 2>&1 || { cat "$tmp/warmup.sni" >&2; die "warm-up of the sni proxy"; }
log "scenario 7: connection rate with a TLS ClientHello, port routing and SNI routing, $rounds rounds"
for r in $(seq 1 "$rounds"); do
  for t in handoff sni; do measure_as hello connrate "$t" "$r" --inflight 32 --tls-hello bench.example; done
done

# --- scenario 4: connections held at once -----------------------------------------------------
declare -A mem
measure_hold() { # TARGET ROUND
  local t=$1 r=$2 out=$res/hold.$1.$2 release=$tmp/release.$1.$2 lg
  local watch=()
  case $t in
    direct) watch=(direct_app:"$direct_pid") ;;
    handoff) watch=(proxy:"$proxy_pid" handoff_app:"$handoff_pid") ;;
    relay) watch=(haproxy:"$haproxy_pid" direct_app:"$direct_pid") ;;
    nio) watch=(nio:"$nio_pid") ;;
  esac
  sleep 1
  for w in "${watch[@]}"; do
    # VmRSS as a user sees it: round 1 forces no collection in the processes at all;
    # the later rounds also read the heap and VmRSS after a full GC.
    mem[$t.$r.${w%%:*}.rss_idle_now]=$(rss_kb "${w#*:}")
    [[ $r -gt 1 ]] || continue
    [[ ${w%%:*} == haproxy ]] || { full_gc "${w#*:}"; mem[$t.$r.${w%%:*}.heap_idle]=$(heap_kb "${w#*:}"); }
    mem[$t.$r.${w%%:*}.rss_idle]=$(rss_kb "${w#*:}")
  done
  : >"$out"
  loadgen 300 hold --port "${port[$t]}" --conns "$hold" --max-connecting 256 --size 16 \
    --release-file "$release" --hold-timeout 120 >"$out" 2>"$out.err" &
  lg=$!
  for _ in $(seq 1 1500); do grep -q '^HELD' "$out" && break; alive "$lg" || break; sleep 0.1; done
  sleep 0.5
  for w in "${watch[@]}"; do
    mem[$t.$r.${w%%:*}.rss_held_now]=$(rss_kb "${w#*:}")
    [[ $r -gt 1 ]] || continue
    [[ ${w%%:*} == haproxy ]] || { full_gc "${w#*:}"; mem[$t.$r.${w%%:*}.heap_held]=$(heap_kb "${w#*:}"); }
    mem[$t.$r.${w%%:*}.rss_held]=$(rss_kb "${w#*:}")
  done
  touch "$release"
  wait "$lg" || log "  hold $t round $r: load generator exit code $?"
  log "  hold $t round $r: $(grep -h '^HELD\|^RESULT' "$out" | grep -o ' held=[0-9]*\| echoed=[0-9]*\| failed=[0-9]*\| unfinished=[0-9]*' | sort -u | tr '\n' ' ')"
}
log "scenario 4: $hold connections held at once, $rounds rounds"
for r in $(seq 1 "$rounds"); do
  for t in "${targets[@]}"; do measure_hold "$t" "$r"; done
done

# --- descriptors after the suite, then stop everything ----------------------------------------
sleep 1
fd_after[proxy]=$(settle_fds "$proxy_pid" "${fd_before[proxy]}")
fd_after[direct_app]=$(settle_fds "$direct_pid" "${fd_before[direct_app]}")
fd_after[haproxy]=$(settle_fds "$haproxy_pid" "${fd_before[haproxy]}")
fd_after[handoff_app2]=$(settle_fds "$handoff_pid" "${fd_before[handoff_app2]}")
stop_proc "$handoff_pid"; latency2_line=$(grep -o 'stopped: .*' "$handoff_log" | tail -n 1)
stop_proc "$proxy_pid"; proxy_rc=$?
proxy_stats=$(grep -i 'stopped\|handed off' "$tmp/proxy.log" | tail -n 1)
stop_proc "$direct_pid"; direct_line=$(grep -o 'stopped: .*' "$tmp/direct.log" | tail -n 1)
stop_proc "$haproxy_pid"
stop_proc "$nio_pid"
haproxy_warnings=$(grep -i 'warn\|alert' "$tmp/haproxy.log" | sed 's/^/    /' | head -n 5)
log "servers stopped (proxy exit code $proxy_rc)"

# --- successor start-up ---------------------------------------------------------------------------
jdk25=${BENCH_JDK25:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java
startup_args=(--rounds "$((rounds * 2))")
if [[ -x $jdk25 ]]; then
  # Its AOT cache for this jar, made once (scripts/cds-archive.sh with that JDK).
  if [[ ! -r $(HANDOFF_JAVA=$jdk25 HANDOFF_CDS=path scripts/launch.sh app 2>/dev/null) ]]; then
    log "making the AOT cache for JDK 25: HANDOFF_JAVA=$jdk25 scripts/cds-archive.sh"
    HANDOFF_JAVA=$jdk25 timeout -k 5 600 scripts/cds-archive.sh >"$tmp/cds25.log" 2>&1 ||
      log "scripts/cds-archive.sh on JDK 25 failed: $(tail -n 3 "$tmp/cds25.log")"
  fi
  startup_args+=(--java-b "$jdk25")
else
  log "no JDK 25 at $jdk25 (BENCH_JDK25): start-up on this JDK only"
fi
log "take-over: scripts/bench-startup.sh ${startup_args[*]}"
startup_out=$(timeout -k 5 900 scripts/bench-startup.sh "${startup_args[@]}" 2>"$tmp/startup.err") ||
  log "bench-startup.sh failed: $(tail -n 3 "$tmp/startup.err")"
log "take-over of $hold idle connections: scripts/bench-startup.sh --rounds 1 --idle $hold"
idle_out=$(timeout -k 5 900 scripts/bench-startup.sh --rounds 1 --idle "$hold" 2>"$tmp/idle.err") ||
  log "bench-startup.sh --idle failed: $(tail -n 3 "$tmp/idle.err")"
# The figure of issue-sized moves: 5,000 idle connections (and the 100 pinging ones) in under
# 200 ms from the first pause to the commit.
move_idle=5000 move_rounds=$rounds
[[ $quick -eq 1 ]] && move_idle=1000 move_rounds=1
log "take-over of $move_idle idle connections: scripts/bench-startup.sh --rounds $move_rounds --idle $move_idle"
move_out=$(timeout -k 5 900 scripts/bench-startup.sh --rounds "$move_rounds" --idle "$move_idle" \
  2>"$tmp/move.err") || log "bench-startup.sh --idle $move_idle failed: $(tail -n 3 "$tmp/move.err")"
summary_of() { # OUTPUT VARIANT KEY
  grep "^SUMMARY variant=$2 " <<<"$1" | sed -n "s/.* $3=\([^ ]*\).*/\1/p" | head -n 1
}
startup_first=$(summary_of "$startup_out" A first_ms)
startup_first25=$(summary_of "$startup_out" B first_ms)
startup_served=$(summary_of "$startup_out" A served_ms)
startup_served25=$(summary_of "$startup_out" B served_ms)
startup_stall=$(sed -n 's/^longest stall: \([0-9.]*\) ms.*/\1/p' <<<"$startup_out")
stall_ratio=$(grep '^SUMMARY' <<<"$startup_out" | sed -n 's/.* ratio=\([^ ]*\).*/\1/p' | sort -g | tail -n 1)
idle_move=$(summary_of "$idle_out" . move_ms)
idle_ratio=$(summary_of "$idle_out" . ratio)
idle_kept=$(sed -n 's/^idle connections: .* echoed=\([0-9]*\).*/\1/p' <<<"$idle_out")
idle_given=$(summary_of "$idle_out" . given_ms)
idle_served=$(summary_of "$idle_out" . served_ms)
move_move=$(summary_of "$move_out" . move_ms)
move_given=$(summary_of "$move_out" . given_ms)
move_served=$(summary_of "$move_out" . served_ms)
move_kept=$(sed -n 's/^idle connections: .* echoed=\([0-9]*\).*/\1/p' <<<"$move_out")

# --- JMH --------------------------------------------------------------------------------------
jmh_table=""
if [[ $jmh -eq 1 ]]; then
  jmh_args=(-f 1 -wi 2 -w 1s -i 3 -r 1s)
  [[ $quick -eq 1 ]] && jmh_args=(-f 1 -wi 1 -w 1s -i 1 -r 1s)
  log "JMH microbenchmarks: ${jmh_args[*]}"
  timeout -k 5 600 java -jar "$dist/lib/handoff-bench.jar" "${jmh_args[@]}" -foe true \
    -rf text -rff "$tmp/jmh.txt" >"$tmp/jmh.log" 2>&1 || log "JMH failed: $(tail -n 5 "$tmp/jmh.log")"
  jmh_table=$(cat "$tmp/jmh.txt" 2>/dev/null)
fi
suite_secs=$(( $(date +%s) - suite_start ))
# CPU time of the whole machine during the suite, and the part that the suite's own processes
# (servers, load generator, jcmd, JMH: all children of this shell, all reaped by now) used.
busy_secs=$(awk -v a="$busy_start" -v b="$(cpu_busy)" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", (b - a) / hz }')
times >"$tmp/times"
own_secs=$(sed -n 2p "$tmp/times" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); t += p[1] * 60 + p[2] } printf "%.0f", t }')
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- figures ----------------------------------------------------------------------------------
all_rounds() { # SCENARIO TARGET KEY
  for r in $(seq 1 "$rounds"); do v=$(val "$res/$1.$2.$r" "$3"); printf '%s ' "${v:--}"; done
}
memmed() { for r in $(seq 1 "$rounds"); do echo "${mem[$1.$r.$2.$3]:-}"; done | grep . | median; }
per_conn() { awk -v a="$1" -v b="$2" -v n="$hold" 'BEGIN { if (a == "" || b == "") print "-"; else printf "%.0f", (b - a) * 1024 / n }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a ~ /^-?[0-9.]+$/ && b ~ /^-?[0-9.]+$/ && a + 0 >= b + 0) }'; }
verdict() { if "$@"; then echo met; else echo "**missed**"; fi; }

declare -A m
for t in "${targets[@]}"; do
  m[conn.$t]=$(med connrate "$t" rate)
  m[rr.$t]=$(med rr "$t" rate); m[p50.$t]=$(med rr "$t" rtt_p50_us); m[p99.$t]=$(med rr "$t" rtt_p99_us)
  m[bulk.$t]=$(med bulk "$t" mbps)
  m[held.$t]=$(for r in $(seq 1 "$rounds"); do val "$res/hold.$t.$r" held; done | sort -n | head -n 1)
  m[echoed.$t]=$(for r in $(seq 1 "$rounds"); do val "$res/hold.$t.$r" echoed; done | sort -n | head -n 1)
  m[errors.$t]=$(cat "$res"/*."$t".* 2>/dev/null | grep -o ' errors=[0-9]*' | awk -F= '{ s += $2 } END { print s + 0 }')
  m[wrong.$t]=$(cat "$res"/*."$t".* 2>/dev/null | grep -o ' mismatches=[0-9]*' | awk -F= '{ s += $2 } END { print s + 0 }')
done
lat_p50=$(sed -n 's/.* p50=\([0-9]*\)us.*/\1/p' <<<"$latency_line")
lat_p99=$(sed -n 's/.* p99=\([0-9]*\)us.*/\1/p' <<<"$latency_line")
lat_max=$(sed -n 's/.* max=\([0-9]*\)us.*/\1/p' <<<"$latency_line")
lat_n=$(sed -n 's/.* n=\([0-9]*\) .*/\1/p' <<<"$latency_line")

row() { # LABEL KEY DECIMALS
  local d=${m[$2.direct]} h=${m[$2.handoff]} y=${m[$2.relay]} n=${m[$2.nio]}
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$(fmt "$d" "$3")" "$(fmt "$h" "$3")" \
    "$(fmt "$y" "$3")" "$(fmt "$n" "$3")" "$(ratio "$h" "$d")" "$(ratio "$y" "$d")" "$(ratio "$h" "$y")" \
    "$(ratio "$h" "$n")"
}
rates_table=$(
  echo "| open-loop rate, % of direct's $(fmt "$direct_rate") conn/s (median of $rounds rounds) | rate achieved, conn/s | skipped | handoff latency p50, µs | p99, µs | client connect to echo p50, µs | p99, µs |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for pct in "${rate_pcts[@]}"; do
    printf '| %s %% | %s | %s | %s | %s | %s | %s |\n' "$pct" "$(fmt "$(med "rate$pct" handoff rate)")" \
      "$(med "rate$pct" handoff skipped)" "$(med "rate$pct" handoff hist_p50_us)" "$(med "rate$pct" handoff hist_p99_us)" \
      "$(fmt "$(med "rate$pct" handoff conn_p50_us)")" "$(fmt "$(med "rate$pct" handoff conn_p99_us)")"
  done
)
results_table=$(
  echo "| scenario (median of $rounds rounds) | direct | handoff | relay | NIO echo | handoff / direct | relay / direct | handoff / relay | handoff / NIO echo |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  row "1. connection rate, connections/s" conn 0
  row "2. request/response, round trips/s" rr 0
  row "2. RTT p50, µs" p50 1
  row "2. RTT p99, µs" p99 1
  row "3. bulk, MB/s echoed" bulk 0
  printf '| 4. held at once and echoed twice (worst round) | %s / %s | %s / %s | %s / %s | %s / %s | | | | |\n' \
    "${m[echoed.direct]:--}" "$hold" "${m[echoed.handoff]:--}" "$hold" "${m[echoed.relay]:--}" "$hold" \
    "${m[echoed.nio]:--}" "$hold"
  printf '| 5. handoff latency, accept to adopted (app histogram, n=%s) | | p50 %s µs, p99 %s µs, max %s µs | | | | | | |\n' \
    "${lat_n:--}" "${lat_p50:--}" "${lat_p99:--}" "${lat_max:--}"
  printf '| failed connections / wrong bytes, whole suite | %s / %s | %s / %s | %s / %s | %s / %s | | | | |\n' \
    "${m[errors.direct]}" "${m[wrong.direct]}" "${m[errors.handoff]}" "${m[wrong.handoff]}" "${m[errors.relay]}" "${m[wrong.relay]}" \
    "${m[errors.nio]}" "${m[wrong.nio]}"
)

# Server CPU per operation: the CPU time of the target's processes over the measured window
# (/proc/PID/task/*/stat), divided by the operations of that window; medians over the rounds.
cpu_op() { # SCENARIO TARGET ROUND OPS_KEY SCALE [PROCESS]: CPU per op x SCALE, one round
  local f=$res/$1.$2.$3 ops cpu
  ops=$(val "$f" "$4")
  if [[ -n ${6:-} ]]; then cpu=$(val "$f" "cpu_ms.$6"); else
    cpu=$(grep -o ' cpu_ms\.[a-z]*=[0-9.]*' "$f" 2>/dev/null | awk -F= '{ s += $2 } END { if (NR) print s }'); fi
  awk -v c="$cpu" -v o="$ops" -v k="$5" 'BEGIN { if (c == "" || o == "" || o == 0) print ""; else printf "%.3f", c * k / o }'
}
cpu_med() { for r in $(seq 1 "$rounds"); do cpu_op "$1" "$2" "$r" "$3" "$4" "${5:-}"; done | grep . | median; }
cpurow() { # LABEL SCENARIO OPS_KEY SCALE DECIMALS
  local d h y n hp ha yh
  d=$(cpu_med "$2" direct "$3" "$4"); h=$(cpu_med "$2" handoff "$3" "$4"); y=$(cpu_med "$2" relay "$3" "$4")
  n=$(cpu_med "$2" nio "$3" "$4")
  hp=$(cpu_med "$2" handoff "$3" "$4" proxy); ha=$(cpu_med "$2" handoff "$3" "$4" app)
  yh=$(cpu_med "$2" relay "$3" "$4" haproxy)
  printf '| %s | %s | %s (proxy %s + app %s) | %s (haproxy %s) | %s | %s | %s | %s | %s |\n' "$1" "$(fmt "$d" "$5")" \
    "$(fmt "$h" "$5")" "$(fmt "$hp" "$5")" "$(fmt "$ha" "$5")" "$(fmt "$y" "$5")" "$(fmt "$yh" "$5")" \
    "$(fmt "$n" "$5")" "$(ratio "$h" "$d")" "$(ratio "$y" "$d")" "$(ratio "$d" "$n")" "$(ratio "$h" "$n")"
}
threads_of() { # SCENARIO TARGET PROCESS: the thread groups of round 1, ms in the window
  val "$res/$1.$2.1" "cpu_threads.$3" | tr ';' ' '
}
cpu_table=$(
  echo "| server CPU per operation (median of $rounds rounds) | direct | handoff | relay | NIO echo | handoff / direct | relay / direct | direct / NIO echo | handoff / NIO echo |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  cpurow "1. per connection, µs" connrate connections 1000 1
  cpurow "2. per round trip, µs" rr round_trips 1000 2
  cpurow "3. per GB echoed, ms" bulk bytes 1000000000 0
)
cpu_conn_d=$(cpu_med connrate direct connections 1000); cpu_conn_h=$(cpu_med connrate handoff connections 1000)
cpu_rr_d=$(cpu_med rr direct round_trips 1000); cpu_rr_h=$(cpu_med rr handoff round_trips 1000)
cpu_gb_d=$(cpu_med bulk direct bytes 1000000000); cpu_gb_h=$(cpu_med bulk handoff bytes 1000000000)
sni_cpu_port=$(cpu_med hello handoff connections 1000)
sni_cpu_sni=$(cpu_med hello sni connections 1000)
sni_extra=$(awk -v a="$sni_cpu_sni" -v b="$sni_cpu_port" 'BEGIN { if (a == "" || b == "") print ""; else printf "%.1f", a - b }')
sni_table=$(
  echo "| scenario 7, a ClientHello per connection (median of $rounds rounds) | conn/s | server CPU per connection, µs | proxy | app |"
  echo "|---|---:|---:|---:|---:|"
  for t in handoff sni; do
    label="port routing (proxy PORT SOCKET)"; [[ $t == sni ]] && label="SNI routing (--route sni:bench.example=SOCKET)"
    printf '| %s | %s | %s | %s | %s |\n' "$label" "$(fmt "$(med hello "$t" rate)")" \
      "$(fmt "$(cpu_med hello "$t" connections 1000)" 1)" "$(fmt "$(cpu_med hello "$t" connections 1000 proxy)" 1)" \
      "$(fmt "$(cpu_med hello "$t" connections 1000 app)" 1)"
  done
)
cpu_threads=$(
  for t in handoff direct; do
    for p in proxy app; do
      g=$(threads_of connrate "$t" "$p"); [[ -n $g ]] && echo "- scenario 1, $t, $p, CPU ms by thread group (round 1): $g"
    done
  done
)

memrow() { # LABEL TARGET PROCESS
  local ri=$(memmed "$2" "$3" rss_idle) rh=$(memmed "$2" "$3" rss_held)
  local hi=$(memmed "$2" "$3" heap_idle) hh=$(memmed "$2" "$3" heap_held)
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$(fmt "$ri")" "$(fmt "$rh")" "$(per_conn "$ri" "$rh")" \
    "$(fmt "$hi")" "$(fmt "$hh")" "$(per_conn "$hi" "$hh")"
}
memory_table=$(
  echo "| process (target) | RSS idle, KiB | RSS with $hold held, KiB | RSS per connection, bytes | heap after full GC idle, KiB | heap after full GC with $hold held, KiB | heap per connection, bytes |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  memrow "proxy (handoff)" handoff proxy
  memrow "app (handoff)" handoff handoff_app
  memrow "app (direct)" direct direct_app
  memrow "haproxy (relay)" relay haproxy
  memrow "NIO echo (nio)" nio nio
)
# Resident memory as a user sees it: VmRSS of round 1, in which no collection is forced.
nowrow() { # LABEL TARGET PROCESS
  printf '| %s | %s | %s |\n' "$1" "$(fmt "${mem[$2.1.$3.rss_idle_now]:-}")" "$(fmt "${mem[$2.1.$3.rss_held_now]:-}")"
}
memory_now_table=$(
  echo "| process (target) | VmRSS idle, KiB | VmRSS with $hold held, KiB |"
  echo "|---|---:|---:|"
  nowrow "proxy (handoff)" handoff proxy
  nowrow "app (handoff)" handoff handoff_app
  nowrow "app (direct)" direct direct_app
  nowrow "haproxy (relay)" relay haproxy
  nowrow "NIO echo (nio)" nio nio
)
# The targets on VmRSS as a user sees it take round 1, before any collection was forced.
proxy_now_max=$(printf '%s\n' "${mem[handoff.1.proxy.rss_idle_now]:-}" "${mem[handoff.1.proxy.rss_held_now]:-}" | grep . | sort -g | tail -n 1)
app_now_held=${mem[handoff.1.handoff_app.rss_held_now]:-}; direct_now_held=${mem[direct.1.direct_app.rss_held_now]:-}
fd_table=$(
  echo "| process | descriptors before | after | growth |"
  echo "|---|---:|---:|---:|"
  for p in proxy handoff_app1 handoff_app2 direct_app haproxy; do
    printf '| %s | %s | %s | %s |\n' "$p" "${fd_before[$p]:--}" "${fd_after[$p]:--}" \
      "$(awk -v a="${fd_before[$p]:-0}" -v b="${fd_after[$p]:-0}" 'BEGIN { print b - a }')"
  done
)

proxy_rss_growth=$(per_conn "$(memmed handoff proxy rss_idle)" "$(memmed handoff proxy rss_held)")
proxy_heap_growth=$(per_conn "$(memmed handoff proxy heap_idle)" "$(memmed handoff proxy heap_held)")
app_heap_per_conn=$(per_conn "$(memmed handoff handoff_app heap_idle)" "$(memmed handoff handoff_app heap_held)")
app_rss_per_conn=$(per_conn "$(memmed handoff handoff_app rss_idle)" "$(memmed handoff handoff_app rss_held)")
fd_ok() { # proxy and app: no more descriptors after the suite than before it
  local p
  for p in proxy handoff_app1 handoff_app2 direct_app; do
    [[ ${fd_before[$p]:-} =~ ^[0-9]+$ && ${fd_after[$p]:-} =~ ^[0-9]+$ ]] || return 1
    [[ ${fd_after[$p]} -le ${fd_before[$p]} ]] || return 1
  done
}
held_ok() { [[ ${m[echoed.handoff]:-0} -eq $hold && ${m[held.handoff]:-0} -eq $hold && $hold -eq 10000 ]]; }
targets_table=$(
  echo "| target | measured | |"
  echo "|---|---|---|"
  echo "| connection rate through handoff ≥ 0.8× direct | $(ratio "${m[conn.handoff]}" "${m[conn.direct]}")× | $(verdict ge "$(ratio "${m[conn.handoff]}" "${m[conn.direct]}")" 0.8) |"
  echo "| connection rate through handoff ahead of relay | $(ratio "${m[conn.handoff]}" "${m[conn.relay]}")× relay | $(verdict ge "$(ratio "${m[conn.handoff]}" "${m[conn.relay]}")" 1.0001) |"
  echo "| request/response through handoff ≥ 0.95× direct | $(ratio "${m[rr.handoff]}" "${m[rr.direct]}")× | $(verdict ge "$(ratio "${m[rr.handoff]}" "${m[rr.direct]}")" 0.95) |"
  echo "| bulk through handoff ≥ 0.95× direct | $(ratio "${m[bulk.handoff]}" "${m[bulk.direct]}")× | $(verdict ge "$(ratio "${m[bulk.handoff]}" "${m[bulk.direct]}")" 0.95) |"
  echo "| bulk through handoff ≥ 1.5× relay | $(ratio "${m[bulk.handoff]}" "${m[bulk.relay]}")× | $(verdict ge "$(ratio "${m[bulk.handoff]}" "${m[bulk.relay]}")" 1.5) |"
  echo "| 10,000 of 10,000 held and echoed (handoff, every round) | ${m[echoed.handoff]:--} of $hold | $(verdict held_ok) |"
  echo "| proxy memory does not grow with held connections | RSS ${proxy_rss_growth} B, heap ${proxy_heap_growth} B per held connection | $(verdict ge 64 "$proxy_heap_growth") |"
  echo "| app memory per held connection, under 4 KiB above its idle heap | heap ${app_heap_per_conn} B, RSS ${app_rss_per_conn} B per connection | $(verdict ge 4096 "$app_heap_per_conn") |"
  echo "| proxy VmRSS ≤ 64 MB idle and with $hold held, no GC forced, default options | $(fmt "$(awk -v k="$proxy_now_max" 'BEGIN { if (k != "") print k / 1024 }')" 1) MB at most | $(verdict ge 65536 "${proxy_now_max:-999999}") |"
  echo "| app VmRSS with $hold held ≤ direct's, no GC forced, default options | $(fmt "$(awk -v k="$app_now_held" 'BEGIN { if (k != "") print k / 1024 }')" 1) MB against $(fmt "$(awk -v k="$direct_now_held" 'BEGIN { if (k != "") print k / 1024 }')" 1) MB | $(verdict ge "${direct_now_held:-0}" "${app_now_held:-999999}") |"
  echo "| successor start-up: app --take-over started to first connection moved < 1 s on this JDK and < 0.5 s on JDK 25 | ${startup_first:--} ms on this JDK, ${startup_first25:--} ms on JDK 25 (medians; served from the commit: ${startup_served:--} / ${startup_served25:--} ms) | $( [[ $(verdict ge 999 "${startup_first:-99999}") == met ]] && verdict ge 499 "${startup_first25:-99999}" || echo '**missed**') |"
  echo "| take-over stall: longest round trip while connections move ≤ 1.5× the longest in as long a stretch of steady load just before | ${stall_ratio:--}× (worst median), longest stall ${startup_stall:--} ms | $(verdict ge 1.5 "${stall_ratio:-99999}") |"
  echo "| $hold idle connections moved in one take-over, every one still echoing | ${idle_move:--} ms from the first pause to the commit (all given to the event loops $(awk -v g="${idle_given:-}" -v s="${idle_served:-}" 'BEGIN { if (g != "" && s != "") print g - s; else print "-" }') ms after it), ${idle_kept:--} of $hold echoed after, stall ratio ${idle_ratio:--}× | $(verdict test "${idle_kept:-0}" -eq "$hold") |"
  echo "| $move_idle idle connections moved in under 200 ms, first pause to commit | ${move_move:--} ms (median; all given to the event loops $(awk -v g="${move_given:-}" -v s="${move_served:-}" 'BEGIN { if (g != "" && s != "") print g - s; else print "-" }') ms after the commit), ${move_kept:--} of $move_idle echoed after | $( [[ "${move_kept:-0}" == "$move_idle" ]] && verdict ge 199 "${move_move:-99999}" || echo '**missed**') |"
  half_p50=$(med rate50 handoff hist_p50_us); half_p99=$(med rate50 handoff hist_p99_us)
  echo "| handoff latency at an open-loop rate of 50 % of direct's: p50 < 200 µs and p99 < 1 ms | p50 ${half_p50:--} µs, p99 ${half_p99:--} µs (upper bounds of their histogram buckets) | $( [[ $(verdict ge 199 "${half_p50:-99999}") == met ]] && verdict ge 999 "${half_p99:-99999}" || echo '**missed**') |"
  echo "| server CPU per connection, proxy + app ≤ 1.15× direct's | $(ratio "$cpu_conn_h" "$cpu_conn_d")× ($(fmt "$cpu_conn_h" 1) against $(fmt "$cpu_conn_d" 1) µs) | $(verdict ge 1.15 "$(ratio "$cpu_conn_h" "$cpu_conn_d")") |"
  echo "| server CPU per round trip ≤ 1.05× direct's | $(ratio "$cpu_rr_h" "$cpu_rr_d")× ($(fmt "$cpu_rr_h" 2) against $(fmt "$cpu_rr_d" 2) µs) | $(verdict ge 1.05 "$(ratio "$cpu_rr_h" "$cpu_rr_d")") |"
  echo "| server CPU per GB ≤ 1.05× direct's | $(ratio "$cpu_gb_h" "$cpu_gb_d")× ($(fmt "$cpu_gb_h" 0) against $(fmt "$cpu_gb_d" 0) ms) | $(verdict ge 1.05 "$(ratio "$cpu_gb_h" "$cpu_gb_d")") |"
  echo "| SNI routing costs ≤ 10 µs more server CPU per connection than port routing | ${sni_extra:--} µs more | $(verdict ge 10 "${sni_extra:-999}") |"
  echo "| no descriptor growth in proxy or app across the suite | see the descriptor table | $(verdict fd_ok) |"
)

rounds_table=$(
  echo "| scenario | target | per round |"
  echo "|---|---|---|"
  for t in "${targets[@]}"; do echo "| connection rate, conn/s | $t | $(all_rounds connrate "$t" rate) |"; done
  for t in "${targets[@]}"; do echo "| request/response, round trips/s | $t | $(all_rounds rr "$t" rate) |"; done
  for t in "${targets[@]}"; do echo "| request/response RTT p50 / p99, µs | $t | $(for r in $(seq 1 "$rounds"); do printf '%s/%s ' "$(val "$res/rr.$t.$r" rtt_p50_us)" "$(val "$res/rr.$t.$r" rtt_p99_us)"; done) |"; done
  for t in "${targets[@]}"; do echo "| bulk, MB/s | $t | $(all_rounds bulk "$t" mbps) |"; done
  for t in "${targets[@]}"; do echo "| held / echoed / connect seconds | $t | $(for r in $(seq 1 "$rounds"); do printf '%s/%s/%ss ' "$(val "$res/hold.$t.$r" held)" "$(val "$res/hold.$t.$r" echoed)" "$(val "$res/hold.$t.$r" connect_seconds)"; done) |"; done
)
first_errors=$(grep -ho 'first_error="[^"]*"' "$res"/* 2>/dev/null | sort | uniq -c | sort -rn | head -n 5 | sed 's/^/    /')

cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)
mem_total=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
jdk=$(java -version 2>&1 | sed -n '2p')
report=$(cat <<EOF
# Performance

Measured by \`$command_line\` on $(date -u '+%Y-%m-%d %H:%M UTC'); the suite took ${suite_secs} s.

- Machine: $(nproc) cores ($cpu), $mem_total memory, Linux $(uname -r)
- JDK: $jdk; HAProxy $(haproxy -v 2>/dev/null | sed -n '1s/^HAProxy version \([^ ]*\).*/\1/p')
- Targets, all on 127.0.0.1: **direct** = \`app --direct-port\` (the app's Netty epoll engine accepting
  TCP itself); **handoff** = \`proxy\` + \`app\` as users run them (default options); **relay** =
  HAProxy in TCP mode (\`maxconn 9991\`, the most that 20,000 descriptors allow) forwarding to the direct app's port;
  **NIO echo** = \`dev.handoff.bench.NioEcho\` (module \`bench\`), a plain JDK NIO echo with one
  selector thread and no framework (\`-XX:+UseSerialGC -Xms32m\`, the app's collector and first
  heap): the floor a Java user compares with. All under
  \`ulimit -n 20000\`, JVMs with default options${JAVA_OPTS:+ plus JAVA_OPTS=\"$JAVA_OPTS\"}.
- Load: \`dev.handoff.bench.LoadGen\` (module \`bench\`), one JDK NIO selector thread, every echoed
  byte compared with what was sent. The machine has $(nproc) cores and the load generator competes
  with the servers for them, so it uses a single thread; absolute figures are bounded by that, the
  ratios are what the targets are about. Other work may have been running on the machine: of the
  ${busy_secs} CPU-seconds used on it during the suite (out of $(( suite_secs * $(nproc) )) available), the suite's own
  processes used ${own_secs}; load average ${load_start} at the start, ${load_end} at the end.
- First ${jit_warmup} s of scenario 1 on each target, not counted, so that every JIT has compiled
  its connection path. Each measurement: ${warmup} s warm-up, then ${seconds} s counted; $rounds rounds, the targets
  interleaved (direct, handoff, relay, NIO echo, direct, ...) within each round; medians below.
- Scenario 5 reads the app's own histogram (its shutdown line): the handoff app that serves the
  warm-up and scenario 1 (all rounds) is stopped after it, and a fresh app serves the rest,
  first warmed with ${fresh_warmup} s of scenario 1 (what the others had); before scenario 2,
  2 s of it on every target, not counted.

## Results

$results_table

## Handoff latency at fixed rates

Connections started at a fixed rate whatever became of the earlier ones (open loop: \`LoadGen
rate\`, 32 bytes echoed, at most 2,000 open at once; an arrival that finds none free is skipped),
at 25, 50, 75 and 100 % of the rate the direct app sustained in scenario 1, through the proxy to an
app of its own started with \`--metrics\`. The handoff latency (the proxy's accept to the app
owning the descriptor) comes from the app's Prometheus histogram, read when the load generator
begins its measured window (after ${rate_warmup} s at the same rate, which leave its own JIT
compilers time to finish) and again once the run has ended: each percentile is the upper bound of
the histogram bucket it falls in. The client's time from the connection's due start to its echo
read back is given beside it; between arrivals less than a millisecond apart the load generator
parks for at most 200 µs, so that time can be up to 200 µs late.

$rates_table

## Server CPU per operation

The load generator saturates a core on this machine, so connections per second hide what each
operation costs the servers. Here: the CPU time (user + system, every thread, from
\`/proc/PID/task/*/stat\`) of each target's server processes over the measured window, divided by
that window's operations. Handoff counts proxy + app; relay counts haproxy + the app it forwards to.

$cpu_table

Scenario 7, routing by TLS server name: each connection sends the JDK's ClientHello for
\`bench.example\` and reads it back, through a proxy without routes and through one with
\`--route sni:bench.example=SOCKET --route default=SOCKET\`, to the same app:

$sni_table

$cpu_threads

## Targets

$targets_table

## Memory with $hold connections held

Heap in use after a full GC (\`jcmd PID GC.run\`, then \`GC.heap_info\`, every generation) and
resident memory (VmRSS, read right after that GC), idle just before and while the connections are
held; medians over rounds 2 and later (round 1 forces no collection).
Per connection = (held − idle) / $hold. HAProxy's heap column is not applicable.

$memory_table

Resident memory as a user sees it: VmRSS in round 1, in which no collection is forced in any
process, with the launchers' default JVM options (scripts/launch.sh) and the class-data sharing
archives the build made; idle just before the connections are connected, and 0.5 s after all are
held.

$memory_now_table

## Successor start-up

\`scripts/bench-startup.sh ${startup_args[*]}\`: proxy and app, 100 clients pinging every 5 ms
through the proxy, then take-overs in a row by \`app --take-over\` with the default launcher, the
rounds alternating between this JDK (A) and JDK 25 (B, \`HANDOFF_JAVA=$jdk25\`, where the launcher
maps the AOT cache made by \`scripts/cds-archive.sh\` instead of a CDS archive); ms from the start
of the new app's launcher to its first log line (up), to its binding the socket path (bound), to
the first connection held by it (first), to the commit, from which it serves them (served), to its
having given the last of them to its event loops (given: after the commit it gives them a slice at
a time, serving those given between two slices), to the old app's release of its copies (all);
cpu = the CPU time the new app had used when it had bound the path; move = ms from the old app's
first pause to the commit; stall = the longest round trip of a probe connection that ended while
they moved (to 1 s after the commit), steady = the longest in as long a stretch of steady load
just before the new app started, ratio = stall / steady;
jvm = the longest round trip while the new app's JVM started, before any connection was paused
(what the start of a second JVM next to the load costs on this machine's cores, moving nothing).

\`\`\`
${startup_out:-not measured}
\`\`\`

The same with $hold more connections held idle through the proxy (\`--rounds 1 --idle $hold\`),
moved in the same take-over and echoed once more after it:

\`\`\`
${idle_out:-not measured}
\`\`\`

With $move_idle connections held idle (\`--rounds $move_rounds --idle $move_idle\`):

\`\`\`
${move_out:-not measured}
\`\`\`

## Descriptors

Open descriptors (\`/proc/PID/fd\`) after the warm-up and after the whole suite, once the last
connections closed. The first handoff app served the warm-up and scenario 1; the second the rest.

$fd_table

## Per round

$rounds_table

## Log lines

- handoff app 1 (warm-up and scenario 1): \`${latency_line:-none}\`
- handoff app 2 (scenarios 2 to 4): \`${latency2_line:-none}\`
- direct app: \`${direct_line:-none}\`
- proxy: \`${proxy_stats:-none}\`
$( [[ -n $haproxy_warnings ]] && printf -- '- haproxy:\n\n```\n%s\n```\n' "$haproxy_warnings")
$( [[ -n $first_errors ]] && printf -- '- first error of the load generator runs that had errors (count, message):\n\n```\n%s\n```\n' "$first_errors")

## Microbenchmarks (JMH)

$( if [[ -n $jmh_table ]]; then printf '`java -jar bench/target/handoff-bench.jar %s`, average time per operation:\n\n```\n%s\n```\n' "${jmh_args[*]}" "$jmh_table"; else echo "Not run."; fi)

## Running the benchmarks

\`scripts/bench.sh\` (about 20 minutes on 2 cores; \`--quick\` for a shorter, rougher run; \`--help\`
for the options) runs the suite above and writes this page. Narrower tools, each with \`--help\`:
\`scripts/bench-profile.sh\` (where each connection's server CPU goes, by system call and by
library; \`--nio\` for the plain NIO echo, \`--sni\` for routing by server name),
\`scripts/bench-memory.sh\` (VmRSS idle and with connections held), \`scripts/bench-startup.sh\`
(a successor's start-up and the stall of pinging clients while connections move; \`--launcher-b\`,
\`--opts-b\` and \`--java-b\` alternate two variants in one run) and \`scripts/bench-defaults-ab.sh\`
(two sets of JVM options side by side). The launchers' JVM options are explained in
[JVM-OPTIONS.md](JVM-OPTIONS.md).
EOF
)
echo "$report"
if [[ $doc -eq 1 ]]; then
  echo "$report" >docs/PERFORMANCE.md
  log "wrote docs/PERFORMANCE.md"
fi
log "suite done in ${suite_secs} s"
