#!/usr/bin/env bash
# Server CPU per connection of two sets of JVM defaults side by side (a memory setting
# must not cost CPU): set A and set B each start a proxy + app pair and a direct app
# (scripts/app --direct-port), and the load generator runs scenario 1 of the suite (connect, echo
# 32 bytes, close, 32 in flight) against them in turn, A pair, A direct, B pair, B direct, for
# ROUNDS rounds, printing each server's CPU per connection (from /proc/PID/task/*/stat over the
# measured window) and at the end every server's VmRSS.
#
#   scripts/bench-defaults-ab.sh [--rounds 4] [--seconds 3] [--launcher-a FILE] [--launcher-b FILE]
#       [--proxy-opts-a "..."] [--app-opts-a "..."] [--proxy-opts-b "..."] [--app-opts-b "..."]
#
# Launchers default to scripts/launch.sh; e.g. the launcher of an older commit as A
# (git show REV:scripts/launch.sh >/tmp/old-launch.sh), or the same launcher with
# --proxy-opts-b -XX:TieredStopAtLevel=1. Needs the jars (mvn -DskipTests package). Bounded in time.
set -uo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
# shellcheck source=scripts/bench-lib.sh
source "$root/scripts/bench-lib.sh"
rounds=4; seconds=3
declare -A launcher=([A]=$root/scripts/launch.sh [B]=$root/scripts/launch.sh) popts=([A]="" [B]="") aopts=([A]="" [B]="")
while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds) rounds=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --launcher-a) launcher[A]=$(readlink -f "$2"); shift ;;
    --launcher-b) launcher[B]=$(readlink -f "$2"); shift ;;
    --proxy-opts-a) popts[A]=$2; shift ;;
    --app-opts-a) aopts[A]=$2; shift ;;
    --proxy-opts-b) popts[B]=$2; shift ;;
    --app-opts-b) aopts[B]=$2; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-defaults-ab.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $rounds =~ ^[1-9][0-9]?$ ]] || { echo "bench-defaults-ab.sh: --rounds 1-99" >&2; exit 2; }
for jar in app/target/handoff-app.jar proxy/target/handoff-proxy.jar bench/target/handoff-bench.jar; do
  [[ -f $root/$jar ]] || die "$jar is missing: build first (mvn -DskipTests package)"
done
ulimit -n 20000 2>/dev/null || die "cannot raise the open-file limit to 20000"
tmp=$(mktemp -d /tmp/handoff-ab.XXXXXX)
trap cleanup EXIT
trap 'exit 130' INT TERM
declare -A port dport proxy_pid app_pid direct_pid
for s in A B; do
  # Each set runs from a copy of the launchers, whose lookup finds the built jars via symlinks.
  d=$tmp/$s; mkdir -p "$d/scripts"
  cp "$root/scripts/app" "$root/scripts/proxy" "$d/scripts/" && cp "${launcher[$s]}" "$d/scripts/launch.sh" &&
    chmod +x "$d/scripts/launch.sh" && ln -s "$root/app" "$d/app" && ln -s "$root/proxy" "$d/proxy" || exit 1
  port[$s]=$(free_port); dport[$s]=$(free_port)
  JAVA_OPTS=${aopts[$s]} "$d/scripts/app" "$tmp/$s.sock" >"$tmp/app$s.log" 2>&1 &
  app_pid[$s]=$!; pids+=("$!")
  JAVA_OPTS=${aopts[$s]} "$d/scripts/app" --direct-port "${dport[$s]}" "$tmp/d$s.sock" >"$tmp/direct$s.log" 2>&1 &
  direct_pid[$s]=$!; pids+=("$!")
  wait_for_log "$tmp/app$s.log" "for proxy links" 60
  wait_for_log "$tmp/direct$s.log" "accepting TCP directly" 60
  JAVA_OPTS=${popts[$s]} "$d/scripts/proxy" --bind 127.0.0.1 "${port[$s]}" "$tmp/$s.sock" >"$tmp/proxy$s.log" 2>&1 &
  proxy_pid[$s]=$!; pids+=("$!")
  wait_for_log "$tmp/proxy$s.log" "linked to app" 60
  log "set $s: launcher ${launcher[$s]}; proxy JAVA_OPTS '${popts[$s]}', app JAVA_OPTS '${aopts[$s]}'"
done
loadgen() {
  timeout -k 5 120 java -XX:+UseSerialGC -Xms64m -Xmx512m -cp "$root/bench/target/handoff-bench.jar" \
    dev.handoff.bench.LoadGen connrate --host 127.0.0.1 --inflight 32 --size 32 "$@"
}
v() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2" | head -n 1; }
us() { awk -v ms="$1" -v n="$2" 'BEGIN { if (ms == "" || n == "" || n == 0) print "-"; else printf "%.1f", ms * 1000 / n }'; }
log "warm-up: 4 s on each server"
for s in A B; do
  loadgen --port "${port[$s]}" --seconds 4 --warmup 0 >/dev/null || die "warm-up of pair $s"
  loadgen --port "${dport[$s]}" --seconds 4 --warmup 0 >/dev/null || die "warm-up of direct $s"
done
for r in $(seq 1 "$rounds"); do
  for s in A B; do
    out=$(loadgen --port "${port[$s]}" --seconds "$seconds" --warmup 1 \
      --cpu "proxy:${proxy_pid[$s]},app:${app_pid[$s]}") || die "pair $s: $out"
    n=$(v connections "$out"); p=$(v cpu_ms.proxy "$out"); a=$(v cpu_ms.app "$out")
    printf 'round %d %s pair:   %6d connections, %s µs per connection (proxy %s + app %s)\n' "$r" "$s" "$n" \
      "$(us "$(awk -v p="$p" -v a="$a" 'BEGIN { print p + a }')" "$n")" "$(us "$p" "$n")" "$(us "$a" "$n")"
    out=$(loadgen --port "${dport[$s]}" --seconds "$seconds" --warmup 1 --cpu "app:${direct_pid[$s]}") ||
      die "direct $s: $out"
    n=$(v connections "$out")
    printf 'round %d %s direct: %6d connections, %s µs per connection\n' "$r" "$s" "$n" "$(us "$(v cpu_ms.app "$out")" "$n")"
  done
done
for s in A B; do
  printf '%s VmRSS, KiB: proxy %s, app %s, direct %s\n' "$s" "$(awk '/^VmRSS:/ { print $2 }' "/proc/${proxy_pid[$s]}/status")" \
    "$(awk '/^VmRSS:/ { print $2 }' "/proc/${app_pid[$s]}/status")" "$(awk '/^VmRSS:/ { print $2 }' "/proc/${direct_pid[$s]}/status")"
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
