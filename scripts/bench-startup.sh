#!/usr/bin/env bash
# Successor start-up: how long `app --take-over` takes, from its start to the first
# connection moved, with the default launcher, and the longest stall a moving connection sees.
#
#   scripts/bench-startup.sh [--rounds 3] [--conns 100] [--interval 5] [--launcher FILE]
#                            [--launcher-b FILE] [--opts-b 'JVM OPTIONS'] [--threads]
#
# --launcher: another launch.sh to run the jars with (e.g. an older one, for a before/after
# comparison: git show REV:scripts/launch.sh >/tmp/old-launch.sh).
# --launcher-b, --opts-b: a side-by-side comparison in one session: the taking-over app of every
# second round (B: rounds 2, 4, ...) starts with that launcher, and/or with those options added
# to JAVA_OPTS; the others (A) as without them. Medians are then printed for A and B apart.
# --threads: also print, for each round, the CPU time of the new app's threads when it had bound
# the path, by kind of thread (main, the JIT compilers, GC, the VM thread, event loops, other).
#
# Starts scripts/app and scripts/proxy (127.0.0.1, a free port, a socket in a temporary
# directory), then the stall probe (bench module, dev.handoff.bench.StallProbe): CONNS connections
# through the proxy, each pinging 16 bytes every INTERVAL ms and checking every echoed byte. Then,
# ROUNDS times, starts `scripts/app --take-over SOCKET` next to the running app and waits until the
# old one has handed everything over and exited. For each round it prints, in ms from the moment
# the launcher was started (timestamps of the daemons' log lines):
#   up      the new app's first log line ("starting: taking over ...": JVM, picocli, logback up)
#   bound   the new app has bound the socket path (its "listening on" line)
#   first   the first moved connection adopted by the new app (the old app's "first connection
#           moved" line)
#   all     every connection moved (the old app's "handed N connections over" line)
#   cpu     the CPU time (user + system, all threads) the new app had used when it had bound the
#           path: on a machine shared with other work, the figure that does not depend on it
#   stall   the longest round trip of a probe connection that ended during this round (from the
#           new app's start to the next round's), that is the longest stall of a moving
#           connection, if over 20 ms (else -)
# and the probe's longest round trip over all rounds (the longest stall), and its errors, which
# must be 0. Needs the jars (mvn -DskipTests package); JAVA_OPTS and HANDOFF_JAVA reach the
# daemons as usual. Bounded in time: each round 60 s at most, the probe 600 s.
set -uo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
# shellcheck source=scripts/bench-lib.sh
source "$root/scripts/bench-lib.sh"
rounds=3; conns=100; interval=5; launcher=$root/scripts/launch.sh launcher_b="" opts_b="" ab=0
threads=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds) rounds=$2; shift ;;
    --conns) conns=$2; shift ;;
    --interval) interval=$2; shift ;;
    --launcher) launcher=$(readlink -f "$2"); shift ;;
    --launcher-b) launcher_b=$(readlink -f "$2"); ab=1; shift ;;
    --opts-b) opts_b=$2; ab=1; shift ;;
    --threads) threads=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-startup.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $rounds =~ ^[1-9][0-9]?$ && $conns =~ ^[1-9][0-9]{0,2}$ && $interval =~ ^[0-9]+$ ]] ||
  { echo "bench-startup.sh: --rounds 1-99, --conns 1-999, --interval MS" >&2; exit 2; }
for jar in app/target/handoff-app.jar proxy/target/handoff-proxy.jar bench/target/handoff-bench.jar; do
  [[ -f $root/$jar ]] || die "$jar is missing: build first (mvn -DskipTests package)"
done

[[ -f $launcher ]] || die "no launcher $launcher"
[[ -z $launcher_b || -f $launcher_b ]] || die "no launcher $launcher_b"

tmp=$(mktemp -d /tmp/handoff-startup.XXXXXX)
# The launchers run from a copy, so that --launcher can swap launch.sh; the copy's lookup
# (../MODULE/target/handoff-ROLE.jar) finds the built jars through symlinks.
dist=$tmp/dist; mkdir -p "$dist/scripts"
cp "$root/scripts/app" "$root/scripts/proxy" "$dist/scripts/" && cp "$launcher" "$dist/scripts/launch.sh" &&
  chmod +x "$dist/scripts/launch.sh" && ln -s "$root/app" "$dist/app" && ln -s "$root/proxy" "$dist/proxy" || exit 1
# B's taking-over apps: scripts-b holds its launcher (the same one without --launcher-b).
mkdir -p "$dist/scripts-b" && cp "$root/scripts/app" "$dist/scripts-b/" &&
  cp "${launcher_b:-$launcher}" "$dist/scripts-b/launch.sh" && chmod +x "$dist/scripts-b/launch.sh" || exit 1
trap cleanup EXIT
trap 'exit 130' INT TERM
# A log line's timestamp (logback: 2026-11-30T14:36:57.899, local time) in epoch milliseconds.
stamp_ms() { # FILE TEXT
  local t
  t=$(grep -m 1 "$2" "$1" 2>/dev/null | cut -d' ' -f1)
  [[ -n $t ]] && date -d "$t" +%s%3N
}
since() { [[ -n $2 ]] && echo $(( $2 - $1 )) || echo -; }

sock=$tmp/app.sock port=$(free_port)
"$dist/scripts/app" "$sock" >"$tmp/app0.log" 2>&1 &
app_pid=$!; pids+=("$app_pid")
wait_for_log "$tmp/app0.log" "for proxy links" 60
"$dist/scripts/proxy" --bind 127.0.0.1 "$port" "$sock" >"$tmp/proxy.log" 2>&1 &
pids+=("$!")
wait_for_log "$tmp/proxy.log" "listening on" 60
wait_for_log "$tmp/proxy.log" "linked to app" 60
timeout -k 5 600 java -cp "$root/bench/target/handoff-bench.jar" dev.handoff.bench.StallProbe \
  --port "$port" --conns "$conns" --interval "$interval" --seconds 590 --slow-ms 20 \
  --stop-file "$tmp/stop" >"$tmp/probe.out" 2>"$tmp/probe.err" &
probe_pid=$!
wait_for_log "$tmp/probe.out" "^CONNECTED" 60
log "$conns connections pinging every $interval ms through the proxy on port $port"
sleep 2

hz=$(getconf CLK_TCK)
# The CPU time of PID's threads (ms), by kind: main, c2, c1, vm (the VM thread: safepoints and,
# with the serial collector, the collections), gc (other collector threads), loops (event loops),
# other; from /proc/PID/task/*/stat, whose second field is the thread's name in parentheses.
thread_cpu() { # PID
  awk -v hz="$hz" '
    { n = $0; sub(/^[0-9]+ \(/, "", n); sub(/\) [A-Z] .*/, "", n)
         rest = $0; sub(/^.*\) /, "", rest); split(rest, f, " ")
         ms = (f[12] + f[13]) * 1000 / hz
         if (n ~ /^C2 /) k = "c2"; else if (n ~ /^C1 /) k = "c1"; else if (n == "VM Thread") k = "vm"
         else if (n ~ /^(GC |G1 )/) k = "gc"; else if (n ~ /^(echo|handoff-io)-/) k = "loops"
         else if (n == "java") k = "main"; else k = "other"
         t[k] += ms }
    END { printf "main %d c2 %d c1 %d vm %d gc %d loops %d other %d", t["main"], t["c2"], t["c1"],
            t["vm"], t["gc"], t["loops"], t["other"] }' /proc/"$1"/task/*/stat 2>/dev/null
}
header() { printf '%-6s %8s %8s %8s %8s %8s %8s %s\n' "$@"; }
log "round up bound first all cpu stall (ms from the start of app --take-over)"
rows=() results=() starts=() variants=() threads_at=()
for r in $(seq 1 "$rounds"); do
  new_log=$tmp/app$r.log old_log=$tmp/app$((r - 1)).log
  variant=A scripts=$dist/scripts opts=${JAVA_OPTS:-}
  if [[ $ab == 1 && $((r % 2)) == 0 ]]; then
    variant=B scripts=$dist/scripts-b opts="${JAVA_OPTS:-} $opts_b"
  fi
  start_ms=$(date +%s%3N)
  JAVA_OPTS=$opts "$scripts/app" --take-over "$sock" >"$new_log" 2>&1 &
  new_pid=$!; pids+=("$new_pid")
  gone=0 cpu=- per_thread=-
  for _ in $(seq 1 1200); do
    alive "$app_pid" || { gone=1; break; }
    if [[ $cpu == - ]] && grep -q "for proxy links" "$new_log"; then
      cpu=$(awk -v hz="$hz" '{ printf "%d", ($14 + $15) * 1000 / hz }' "/proc/$new_pid/stat")
      [[ $threads == 1 ]] && per_thread=$(thread_cpu "$new_pid")
    fi
    sleep 0.05
  done
  [[ $gone -eq 1 ]] || die "round $r: the old app did not hand over within 60 s"
  wait "$app_pid"; rc=$?
  [[ $rc -eq 0 ]] || log "round $r: the old app exited with $rc"
  moved=$(sed -n 's/.*handed \([0-9]*\) connections over.*/\1/p' "$old_log" | tail -n 1)
  up=$(since "$start_ms" "$(stamp_ms "$new_log" "starting: taking over")")
  bound=$(since "$start_ms" "$(stamp_ms "$new_log" "for proxy links")")
  first=$(since "$start_ms" "$(stamp_ms "$old_log" "the first connection moved")")
  all=$(since "$start_ms" "$(stamp_ms "$old_log" "connections over in")")
  log "round $r ($variant): $up $bound $first $all $cpu (moved ${moved:-?})"
  rows+=("$up $bound $first $all $cpu ${moved:-?}") starts+=("$start_ms") variants+=("$variant")
  threads_at+=("$per_thread")
  app_pid=$new_pid
  sleep 2
done
touch "$tmp/stop"
wait "$probe_pid"; probe_rc=$?
result=$(grep '^RESULT' "$tmp/probe.out")
starts+=("$(date +%s%3N)")
header round up bound first all cpu stall "(ms from the start of app --take-over)"
for i in "${!rows[@]}"; do
  # The longest round trip that ended in this round's window (the probe's SLOW lines, > 20 ms).
  stall=$(awk -v from="${starts[$i]}" -v to="${starts[$((i + 1))]}" '
    $1 == "SLOW" { split($2, a, "="); split($3, b, "=")
      if (a[2] >= from && a[2] < to && b[2] > max) max = b[2] }
    END { if (max == "") print "-"; else printf "%.0f", max }' "$tmp/probe.out")
  read -r up bound first all cpu moved <<<"${rows[$i]}"
  label=$((i + 1)); [[ $ab == 1 ]] && label="$label ${variants[$i]}"
  header "$label" "$up" "$bound" "$first" "$all" "$cpu" "$stall" "(moved $moved)"
  [[ $threads == 1 ]] && printf '       cpu at bound by thread: %s\n' "${threads_at[$i]}"
  results+=("${variants[$i]} $up $bound $first $all $cpu $stall")
done
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { # VARIANT (A, B, or . for all) FIELD
  for line in "${results[@]}"; do echo "$line"; done | awk -v v="$1" -v f="$2" '$1 ~ "^" v "$" { print $f }' |
    grep -v -- - | median
}
medians() { header "$1" "$(col "$2" 2)" "$(col "$2" 3)" "$(col "$2" 4)" "$(col "$2" 5)" "$(col "$2" 6)" "$(col "$2" 7)"; }
if [[ $ab == 1 ]]; then
  medians "median A" A
  medians "median B" B
  echo "B: launcher ${launcher_b:-as A}; JAVA_OPTS +${opts_b:-nothing}"
else
  medians median .
fi
echo "probe: ${result#RESULT } (exit code $probe_rc)"
echo "longest stall: $(sed -n 's/.* max_rtt_ms=\([0-9.]*\).*/\1/p' <<<"$result") ms;" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg); JAVA_OPTS=${JAVA_OPTS:-}"
[[ $probe_rc -eq 0 ]]
