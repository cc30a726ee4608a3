#!/usr/bin/env bash
# bench-spring.sh [--seconds N] [--connections N]: requests/s and server CPU per request of the
# Spring Boot example (MVC on Jetty), through a real proxy and on the example's own port, each
# from one run of wrk. CPU is utime+stime from /proc/PID/stat, per process (proxy, app), over the
# run. Starts its own proxy and example on ephemeral ports in a temporary directory; stops them at
# the end. Needs wrk and the built jars (mvn -DskipTests package).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
seconds=20 connections=16 warmup=10
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    *) echo "usage: bench-spring.sh [--seconds N] [--connections N] [--warmup N]" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
await() { # await FILE TEXT
  for _ in $(seq 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.5; done
  echo "no '$2' in $1" >&2; cat "$1" >&2; exit 1
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
proxy_port=$(free_port) app_port=$(free_port)
scripts/spring-example "$work/app.sock" "--server.port=$app_port" >"$work/app.log" 2>&1 &
app=$!; pids+=("$app")
await "$work/app.log" "Started SpringExample"
scripts/proxy "$proxy_port" "$work/app.sock" >"$work/proxy.log" 2>&1 &
proxy=$!; pids+=("$proxy")
await "$work/proxy.log" "linked to app"
# run NAME URL: one wrk run; prints requests/s and CPU us per request of the app and the proxy.
run() {
  local name=$1 url=$2 a0 p0 a1 p1 out requests rps
  a0=$(ticks "$app") p0=$(ticks "$proxy")
  out=$(wrk -t2 "-c$connections" "-d${seconds}s" "$url")
  a1=$(ticks "$app") p1=$(ticks "$proxy")
  requests=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$out")
  rps=$(sed -n 's/^Requests\/sec: *//p' <<<"$out")
  errors=$(grep -E "Socket errors|Non-2xx" <<<"$out" || echo "none")
  awk -v n="$name" -v r="$requests" -v rps="$rps" -v a=$((a1 - a0)) -v p=$((p1 - p0)) -v hz="$hz" \
    -v e="$errors" 'BEGIN { printf "%-13s %8d requests %9.1f req/s  app %6.1f us/req  proxy %6.1f us/req  total %6.1f us/req  errors: %s\n", n, r, rps, a * 1e6 / hz / r, p * 1e6 / hz / r, (a + p) * 1e6 / hz / r, e }'
}
# Warm-up of both paths first, so that neither measured run has the JIT's head start.
wrk -t2 "-c$connections" "-d${warmup}s" "http://127.0.0.1:$proxy_port/" >/dev/null
wrk -t2 "-c$connections" "-d${warmup}s" "http://127.0.0.1:$app_port/" >/dev/null
echo "wrk -t2 -c$connections -d${seconds}s (after ${warmup}s of warm-up on each path), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
# Alternated, twice each: on a busy machine the load of the moment shows as the spread.
for round in 1 2; do
  run "through proxy" "http://127.0.0.1:$proxy_port/"
  run "own port" "http://127.0.0.1:$app_port/"
done
