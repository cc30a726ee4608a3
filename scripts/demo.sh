#!/usr/bin/env bash
# Builds the project and runs the design's two commands, app first, on port 1987 and
# /tmp/pipe.sock; sends a line through the proxy and shows with lsof who holds the connection.
# Both keep running until Ctrl-C.
#   scripts/demo.sh
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
command -v mvn >/dev/null || { echo "install Maven and a JDK 17 first (apt-get install maven)"; exit 1; }
mvn -B -ntp -q -DskipTests package
export PATH=$PWD/scripts:$PATH

app /tmp/pipe.sock & app_pid=$!
sleep 1.5
proxy 1987 /tmp/pipe.sock & proxy_pid=$!
trap 'kill $proxy_pid $app_pid 2>/dev/null; wait' EXIT INT TERM
sleep 1.5

exec 3<>/dev/tcp/127.0.0.1/1987
printf 'hello from the demo\n' >&3
read -r -t 5 reply <&3
echo "echoed: $reply"
if command -v lsof >/dev/null; then
  echo "connection on port 1987 (app pid $app_pid, proxy pid $proxy_pid):"
  lsof -nP -iTCP:1987 -sTCP:ESTABLISHED
fi
exec 3>&-
echo "try it: nc localhost 1987   (Ctrl-C here stops both)"
wait
