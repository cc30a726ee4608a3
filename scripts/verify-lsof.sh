#!/usr/bin/env bash
# The handoff, verified with lsof: a client connected to the proxy's port is served by the
# app process, and after the handoff the proxy holds nothing of it. Prints what it saw and ends with
# PASS (exit 0) or FAIL (exit 1).
#
#   scripts/verify-lsof.sh            build first: mvn -DskipTests package
#
# Needs lsof. Uses a free port on 127.0.0.1 and a socket in a temporary directory.
set -uo pipefail
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
tmp=$(mktemp -d)
socket=$tmp/pipe.sock
app_pid=""; proxy_pid=""; failures=0

cleanup() {
  exec 3>&- 4>&- 2>/dev/null
  for pid in $proxy_pid $app_pid; do kill "$pid" 2>/dev/null; done
  for pid in $proxy_pid $app_pid; do wait "$pid" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then echo "  ok: $what"; else echo "  FAILED: $what"; failures=$((failures + 1)); fi
}

command -v lsof >/dev/null || { echo "FAIL: lsof is not installed"; exit 1; }

port=""
for _ in $(seq 1 50); do
  # Below the kernel's ephemeral range (32768 up), so no client connection can hold it.
  candidate=$((20000 + RANDOM % 12000))
  if ! (exec 5<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
done
[[ -n $port ]] || { echo "FAIL: no free port found"; exit 1; }

wait_for_log() { # wait_for_log FILE TEXT
  for _ in $(seq 1 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "FAIL: '$2' never appeared in $1:"; cat "$1"; exit 1
}

start_proxy() { # start_proxy [OPTIONS...]
  "$here/proxy" "$@" "$port" "$socket" >"$tmp/proxy.log" 2>&1 &
  proxy_pid=$!
  wait_for_log "$tmp/proxy.log" "listening on"
}

echo_line() { # echo_line FD TEXT: sends a line on the client connection and reads it back
  local reply=""
  printf '%s\n' "$2" >&"$1"
  read -r -t 10 reply <&"$1"
  [[ $reply == "$2" ]]
}

# The inode of the server end of our client's connection, from /proc/net/tcp: local port = $port,
# remote port = the client's port, state 01 (ESTABLISHED).
server_inode() { # server_inode CLIENT_PORT
  awk -v lp="$(printf '%04X' "$port")" -v rp="$(printf '%04X' "$1")" \
    '$4 == "01" { split($2, l, ":"); split($3, r, ":"); if (l[2] == lp && r[2] == rp) print $10 }' \
    /proc/net/tcp /proc/net/tcp6
}

client_port() { # client_port: the local port of this shell's connection to $port
  lsof -nP -a -p $$ -iTCP:"$port" -sTCP:ESTABLISHED -Fn 2>/dev/null |
    sed -n "s/^n127.0.0.1:\([0-9]*\)->127.0.0.1:$port\$/\1/p" | tail -n 1
}

echo "== start: app on $socket, proxy on port $port"
"$here/app" "$socket" >"$tmp/app.log" 2>&1 &
app_pid=$!
wait_for_log "$tmp/app.log" "for proxy links"
start_proxy
echo "   app pid $app_pid, proxy pid $proxy_pid"

echo "== 1. a client connects to port $port and is echoed"
exec 3<>"/dev/tcp/127.0.0.1/$port"
check "the line comes back" echo_line 3 "hello through the handoff"
echo "-- lsof -nP -iTCP:$port -sTCP:ESTABLISHED"
lsof -nP -iTCP:"$port" -sTCP:ESTABLISHED | tee "$tmp/lsof1"
owner=$(awk -v p=":$port->" 'index($9, p) { print $2 }' "$tmp/lsof1" | sort -u)
check "the server end of the connection on port $port belongs to the app (pid $app_pid; seen: ${owner:-none})" \
  test "$owner" = "$app_pid"

echo "== 2. the proxy holds no descriptor for it"
# The proxy closes its copy when the app's acknowledgement arrives, a moment after the send.
for _ in $(seq 1 20); do
  lsof -nP -a -p "$proxy_pid" -iTCP -sTCP:ESTABLISHED >"$tmp/lsof2"
  [[ -s $tmp/lsof2 ]] || break
  sleep 0.1
done
echo "-- lsof -nP -a -p $proxy_pid -iTCP -sTCP:ESTABLISHED"
cat "$tmp/lsof2"
check "no established TCP socket in the proxy" test ! -s "$tmp/lsof2"
exec 3>&-

echo "== 3. with --hold-copy, both processes hold the same socket: the handoff shares the socket, it does not copy it"
kill "$proxy_pid"; wait "$proxy_pid" 2>/dev/null
start_proxy --hold-copy 30s
exec 4<>"/dev/tcp/127.0.0.1/$port"
check "the line comes back" echo_line 4 "hello again"
inode=$(server_inode "$(client_port)")
echo "-- the connection's socket inode: ${inode:-not found}"
echo "-- ls -l /proc/$app_pid/fd | grep socket:[$inode]   (app)"
ls -l "/proc/$app_pid/fd" | grep "socket:\[$inode\]"
echo "-- ls -l /proc/$proxy_pid/fd | grep socket:[$inode]   (proxy)"
ls -l "/proc/$proxy_pid/fd" | grep "socket:\[$inode\]"
check "the app holds socket:[$inode]" bash -c "ls -l /proc/$app_pid/fd | grep -q 'socket:\[$inode\]'"
check "the proxy holds the same socket:[$inode]" \
  bash -c "[[ -n '$inode' ]] && ls -l /proc/$proxy_pid/fd | grep -q 'socket:\[$inode\]'"
exec 4>&-

if [[ $failures -eq 0 ]]; then echo "PASS"; exit 0; fi
echo "FAIL ($failures checks failed)"; echo "-- app log"; cat "$tmp/app.log"; echo "-- proxy log"; cat "$tmp/proxy.log"
exit 1
