#!/usr/bin/env bash
# Successor start-up: how long `app --take-over` takes, from its start to the first
# connection moved, with the default launcher, and the longest stall a moving connection sees.
#
#   scripts/bench-startup.sh [--rounds 3] [--conns 100] [--interval 5] [--launcher FILE]
#                            [--launcher-b FILE] [--opts-b 'JVM OPTIONS'] [--java-b JAVA]
#                            [--idle N] [--threads]
#
# --launcher: another launch.sh to run the jars with (e.g. an older one, for a before/after
# comparison: git show REV:scripts/launch.sh >/tmp/old-launch.sh).
# --launcher-b, --opts-b: a side-by-side comparison in one session: the taking-over app of every
# second round (B: rounds 2, 4, ...) starts with that launcher, and/or with those options added
# to JAVA_OPTS; the others (A) as without them. Medians are then printed for A and B apart.
# --java-b: the same with another JDK's java for B (HANDOFF_JAVA; e.g.
# /usr/lib/jvm/temurin-25-jdk-amd64/bin/java, where the launcher uses the JDK's AOT cache that
# scripts/cds-archive.sh made for it instead of a CDS archive).
# --idle N: N more connections through the proxy, idle (connected and echoed once, by LoadGen
# hold), held during every round, so that each take-over moves N + CONNS connections; released and
# echoed once more at the end (a connection lost in a move shows up as failed).
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
#   bound   the new app has bound the socket path (its "bound the socket path" line)
#   first   the first moved connection held by the new app (the old app's "first connection
#           moved" line)
#   served  the take-over committed: the new app serves what it holds (its "take-over committed"
#           line)
#   given   the new app has given the last moved connection to its event loops, which serve it
#           (its "gave the N moved connections to the event loops" line; after the commit, it
#           gives them a slice at a time, and serves those given between two slices)
#   all     the old app has released its copies (its "handed N connections over" line)
#   move    ms from the old app's first pause ("moving the connections") to the commit (served)
#   cpu     the CPU time (user + system, all threads) the new app had used when it had bound the
#           path: on a machine shared with other work, the figure that does not depend on it
#   stall   the longest round trip of a probe connection that ended while the connections moved
#           (from the first pause to 1 s after the commit: a stalled round trip ends once the new
#           app's event loop reads the connection again), in ms
#   steady  the longest round trip in a stretch of steady load as long, just before the new app
#           was started, in ms
#   ratio   stall / steady (the target: at most 1.5)
#   jvm     the longest round trip while the new app's JVM started, before any connection was
#           paused (from its start to the first pause): what its start-up alone costs the load
#           on this machine's cores, moving nothing
# and the probe's longest round trip over all rounds (the longest stall), and its errors, which
# must be 0. The last lines, "SUMMARY variant=V key=value ...", give the medians for scripts. Needs the jars (mvn -DskipTests package); JAVA_OPTS and HANDOFF_JAVA reach the
# daemons as usual. Bounded in time: each round 60 s at most, the probe 600 s.
set -uo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
# shellcheck source=scripts/bench-lib.sh
source "$root/scripts/bench-lib.sh"
rounds=3; conns=100; interval=5; launcher=$root/scripts/launch.sh launcher_b="" opts_b="" ab=0
threads=0 java_b="" idle=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds) rounds=$2; shift ;;
    --conns) conns=$2; shift ;;
    --interval) interval=$2; shift ;;
    --launcher) launcher=$(readlink -f "$2"); shift ;;
    --launcher-b) launcher_b=$(readlink -f "$2"); ab=1; shift ;;
    --opts-b) opts_b=$2; ab=1; shift ;;
    --java-b) java_b=$2; ab=1; shift ;;
    --idle) idle=$2; shift ;;
    --threads) threads=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-startup.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $rounds =~ ^[1-9][0-9]?$ && $conns =~ ^[1-9][0-9]{0,2}$ && $interval =~ ^[0-9]+$ &&
   $idle =~ ^[0-9]+$ && $idle -le 10000 ]] ||
  { echo "bench-startup.sh: --rounds 1-99, --conns 1-999, --interval MS, --idle 0-10000" >&2; exit 2; }
[[ -z $java_b || -x $java_b ]] || die "no java at $java_b"
if [[ $idle -gt 0 ]]; then
  ulimit -n 20000 2>/dev/null || die "--idle: cannot raise the open-file limit to 20000 (hard limit $(ulimit -Hn))"
fi
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
  --port "$port" --conns "$conns" --interval "$interval" --seconds 590 --slow-ms 20 --window-ms 10 \
  --stop-file "$tmp/stop" >"$tmp/probe.out" 2>"$tmp/probe.err" &
probe_pid=$!
wait_for_log "$tmp/probe.out" "^CONNECTED" 60
log "$conns connections pinging every $interval ms through the proxy on port $port"
if [[ $idle -gt 0 ]]; then
  timeout -k 5 900 java -XX:+UseSerialGC -Xmx512m -cp "$root/bench/target/handoff-bench.jar" \
    dev.handoff.bench.LoadGen hold --port "$port" --host 127.0.0.1 --conns "$idle" \
    --max-connecting 256 --size 16 --release-file "$tmp/release" --hold-timeout 840 \
    >"$tmp/idle.out" 2>"$tmp/idle.err" &
  idle_pid=$!; pids+=("$idle_pid")
  wait_for_log "$tmp/idle.out" "^HELD" 300
  log "$idle more connections idle through the proxy: $(grep -o ' held=[0-9]*' "$tmp/idle.out")"
fi
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
header() { printf '%-8s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s %s\n' "$@"; }
log "round up bound first served given all cpu (ms from the start of app --take-over)"
rows=() results=() starts=() variants=() threads_at=()
for r in $(seq 1 "$rounds"); do
  new_log=$tmp/app$r.log old_log=$tmp/app$((r - 1)).log
  variant=A scripts=$dist/scripts opts=${JAVA_OPTS:-} java=${HANDOFF_JAVA:-}
  if [[ $ab == 1 && $((r % 2)) == 0 ]]; then
    variant=B scripts=$dist/scripts-b opts="${JAVA_OPTS:-} $opts_b" java=${java_b:-${HANDOFF_JAVA:-}}
  fi
  start_ms=$(date +%s%3N)
  HANDOFF_JAVA=$java JAVA_OPTS=$opts "$scripts/app" --take-over "$sock" >"$new_log" 2>&1 &
  new_pid=$!; pids+=("$new_pid")
  gone=0 cpu=- per_thread=-
  for _ in $(seq 1 1200); do
    alive "$app_pid" || { gone=1; break; }
    if [[ $cpu == - ]] && grep -q "bound the socket path\|for proxy links" "$new_log"; then
      cpu=$(awk -v hz="$hz" '{ printf "%d", ($14 + $15) * 1000 / hz }' "/proc/$new_pid/stat")
      [[ $threads == 1 ]] && per_thread=$(thread_cpu "$new_pid")
    fi
    sleep 0.05
  done
  [[ $gone -eq 1 ]] || die "round $r: the old app did not hand over within 60 s$(grep -h 'rolled back\|ERROR' "$old_log" "$new_log" | head -n 3)"
  wait "$app_pid"; rc=$?
  [[ $rc -eq 0 ]] || log "round $r: the old app exited with $rc"
  # The old app may exit before the new one has said that it serves what it was moved.
  wait_for_log "$new_log" "for proxy links" 60
  moved=$(sed -n 's/.*handed \([0-9]*\) connections over.*/\1/p' "$old_log" | tail -n 1)
  [[ ${moved:-0} -gt 0 ]] && wait_for_log "$new_log" "moved connections to the event loops" 60
  up=$(since "$start_ms" "$(stamp_ms "$new_log" "starting: taking over")")
  bound=$(since "$start_ms" "$(stamp_ms "$new_log" "bound the socket path\|for proxy links")")
  first=$(since "$start_ms" "$(stamp_ms "$old_log" "the first connection moved")")
  served=$(since "$start_ms" "$(stamp_ms "$new_log" "take-over committed")")
  given=$(since "$start_ms" "$(stamp_ms "$new_log" "moved connections to the event loops")")
  all=$(since "$start_ms" "$(stamp_ms "$old_log" "connections over in")")
  moving=$(since "$start_ms" "$(stamp_ms "$old_log" "moving the connections")")
  log "round $r ($variant): $up $bound $first $served $given $all $cpu (moved ${moved:-?})"
  rows+=("$up $bound $first $served $given $all $cpu ${moved:-?} $moving") starts+=("$start_ms") variants+=("$variant")
  threads_at+=("$per_thread")
  app_pid=$new_pid
  sleep 5
done
touch "$tmp/stop"
wait "$probe_pid"; probe_rc=$?
result=$(grep '^RESULT' "$tmp/probe.out")
starts+=("$(date +%s%3N)")
# The longest round trip (ms) of the probe's WINDOW lines that end in [FROM, TO) (epoch ms).
window_max() { # FROM TO
  awk -v from="$1" -v to="$2" '
    $1 == "WINDOW" { split($2, a, "="); split($3, b, "=")
      if (a[2] >= from && a[2] < to && b[2] > max) max = b[2] }
    END { printf "%.1f", max / 1000 }' "$tmp/probe.out"
}
header round up bound first served given all cpu move stall steady ratio jvm "(ms from the start of app --take-over)"
for i in "${!rows[@]}"; do
  read -r up bound first served given all cpu moved moving <<<"${rows[$i]}"
  move=- stall=- steady=- ratio=- jvm=-
  if [[ $moving != - && $served != - ]]; then
    jvm=$(window_max "${starts[i]}" "$((starts[i] + moving))")
    move=$((served - moving))
    # While they move: from the first pause to 1 s after the commit (the stalled round trips
    # end once the new app's event loops read them again). Before: as long a stretch of steady
    # load, ending 10 ms before the new app was started (the rounds are 5 s apart).
    from=$((starts[i] + moving)) to=$((starts[i] + served + 1000))
    stall=$(window_max "$from" "$to")
    steady=$(window_max "$((starts[i] - 10 - (to - from)))" "$((starts[i] - 10))")
    ratio=$(awk -v a="$stall" -v b="$steady" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
  fi
  label=$((i + 1)); [[ $ab == 1 ]] && label="$label-${variants[$i]}"
  header "$label" "$up" "$bound" "$first" "$served" "$given" "$all" "$cpu" "$move" "$stall" "$steady" "$ratio" "$jvm" "(moved $moved)"
  [[ $threads == 1 ]] && printf '         cpu at bound by thread: %s\n' "${threads_at[$i]}"
  results+=("${variants[$i]} $up $bound $first $served $given $all $cpu $move $stall $steady $ratio $jvm")
done
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { # VARIANT (A, B, or . for all) FIELD
  for line in "${results[@]}"; do echo "$line"; done | awk -v v="$1" -v f="$2" '$1 ~ "^" v "$" { print $f }' |
    grep -v -- - | median
}
medians() { # LABEL VARIANT
  header "$1" "$(col "$2" 2)" "$(col "$2" 3)" "$(col "$2" 4)" "$(col "$2" 5)" "$(col "$2" 6)" \
    "$(col "$2" 7)" "$(col "$2" 8)" "$(col "$2" 9)" "$(col "$2" 10)" "$(col "$2" 11)" "$(col "$2" 12)" \
    "$(col "$2" 13)"
}
summary() { # VARIANT
  echo "SUMMARY variant=$1 up_ms=$(col "$1" 2) bound_ms=$(col "$1" 3) first_ms=$(col "$1" 4)" \
    "served_ms=$(col "$1" 5) given_ms=$(col "$1" 6) all_ms=$(col "$1" 7) cpu_ms=$(col "$1" 8)" \
    "move_ms=$(col "$1" 9) stall_ms=$(col "$1" 10) steady_ms=$(col "$1" 11) ratio=$(col "$1" 12)" \
    "jvm_ms=$(col "$1" 13)" \
    "idle=$idle conns=$conns"
}
if [[ $ab == 1 ]]; then
  medians "median-A" A
  medians "median-B" B
  echo "B: launcher ${launcher_b:-as A}; JAVA_OPTS +${opts_b:-nothing}; java ${java_b:-as A}"
else
  medians median .
fi
if [[ $idle -gt 0 ]]; then
  touch "$tmp/release"
  wait "$idle_pid"; idle_rc=$?
  echo "idle connections: $(grep -h '^RESULT' "$tmp/idle.out" | grep -o ' held=[0-9]*\| echoed=[0-9]*\| failed=[0-9]*\| unfinished=[0-9]*' | tr -d '\n') (exit code $idle_rc)"
fi
echo "probe: ${result#RESULT } (exit code $probe_rc)"
echo "longest stall: $(sed -n 's/.* max_rtt_ms=\([0-9.]*\).*/\1/p' <<<"$result") ms;" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg); JAVA_OPTS=${JAVA_OPTS:-}"
if [[ $ab == 1 ]]; then summary A; summary B; else summary .; fi
[[ $probe_rc -eq 0 ]]
