#!/usr/bin/env bash
# Successor start-up (issue 10): how long `app --take-over` takes, from its start to the first
# connection moved, with the default launcher, and the longest stall a moving connection sees.
#
#   scripts/bench-startup.sh [--rounds 3] [--conns 100] [--interval 5] [--launcher FILE]
#
# --launcher: another launch.sh to run the jars with (e.g. an older one, for a before/after
# comparison: git show REV:scripts/launch.sh >/tmp/old-launch.sh).
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
# and the probe's longest round trip over all rounds (the longest stall), and its errors, which
# must be 0. Needs the jars (mvn -DskipTests package); JAVA_OPTS and HANDOFF_JAVA reach the
# daemons as usual. Bounded in time: each round 60 s at most, the probe 600 s.
set -uo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
# shellcheck source=scripts/bench-lib.sh
source "$root/scripts/bench-lib.sh"
rounds=3; conns=100; interval=5; launcher=$root/scripts/launch.sh
while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds) rounds=$2; shift ;;
    --conns) conns=$2; shift ;;
    --interval) interval=$2; shift ;;
    --launcher) launcher=$(readlink -f "$2"); shift ;;
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

tmp=$(mktemp -d /tmp/handoff-startup.XXXXXX)
# The launchers run from a copy, so that --launcher can swap launch.sh; the copy's lookup
# (../MODULE/target/handoff-ROLE.jar) finds the built jars through symlinks.
dist=$tmp/dist; mkdir -p "$dist/scripts"
cp "$root/scripts/app" "$root/scripts/proxy" "$dist/scripts/" && cp "$launcher" "$dist/scripts/launch.sh" &&
  chmod +x "$dist/scripts/launch.sh" && ln -s "$root/app" "$dist/app" && ln -s "$root/proxy" "$dist/proxy" || exit 1
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
  --port "$port" --conns "$conns" --interval "$interval" --seconds 590 \
  --stop-file "$tmp/stop" >"$tmp/probe.out" 2>"$tmp/probe.err" &
probe_pid=$!
wait_for_log "$tmp/probe.out" "^CONNECTED" 60
log "$conns connections pinging every $interval ms through the proxy on port $port"
sleep 2

printf '%-6s %8s %8s %8s %8s %8s %s\n' round up bound first all cpu "(ms from the start of app --take-over)"
results=()
for r in $(seq 1 "$rounds"); do
  new_log=$tmp/app$r.log old_log=$tmp/app$((r - 1)).log
  start_ms=$(date +%s%3N)
  "$dist/scripts/app" --take-over "$sock" >"$new_log" 2>&1 &
  new_pid=$!; pids+=("$new_pid")
  gone=0 cpu=-
  for _ in $(seq 1 1200); do
    alive "$app_pid" || { gone=1; break; }
    if [[ $cpu == - ]] && grep -q "for proxy links" "$new_log"; then
      cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000 / hz }' "/proc/$new_pid/stat")
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
  printf '%-6s %8s %8s %8s %8s %8s %s\n' "$r" "$up" "$bound" "$first" "$all" "$cpu" "(moved ${moved:-?})"
  results+=("$up $bound $first $all $cpu")
  app_pid=$new_pid
  sleep 2
done
touch "$tmp/stop"
wait "$probe_pid"; probe_rc=$?
result=$(grep '^RESULT' "$tmp/probe.out")
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { for line in "${results[@]}"; do echo "$line" | cut -d' ' -f"$1"; done | grep -v -- - | median; }
printf '%-6s %8s %8s %8s %8s %8s\n' median "$(col 1)" "$(col 2)" "$(col 3)" "$(col 4)" "$(col 5)"
echo "probe: ${result#RESULT } (exit code $probe_rc)"
echo "longest stall: $(sed -n 's/.* max_rtt_ms=\([0-9.]*\).*/\1/p' <<<"$result") ms;" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg); JAVA_OPTS=${JAVA_OPTS:-}"
[[ $probe_rc -eq 0 ]]
