#!/usr/bin/env bash
# A bounded soak: mixed load through one proxy to three apps while apps are killed with SIGKILL
# and restarted, or replaced by a successor (app --take-over) that is itself SIGKILLed at a random
# moment of its take-over, at random (at least two always linked). Reports failed clients, byte mismatches,
# descriptor counts against their baseline and the proxy's resident memory, and writes
# docs/RELIABILITY.md. Fails if any client went unserved, any byte differed, a descriptor leaked
# or memory grew.
#   scripts/soak.sh [SECONDS]        default 60; the tests (scripts/test.sh) run it for 60 s
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
seconds=${1:-60}
[[ $seconds =~ ^[0-9]+$ && $seconds -ge 10 ]] || { echo "usage: scripts/soak.sh [SECONDS >= 10]" >&2; exit 2; }

mvn -B -ntp -q -DskipTests install
mvn -B -ntp verify -pl it -Dit.test=SoakIT -Dsoak.seconds="$seconds" \
  -Dsurefire.failIfNoSpecifiedTests=false

{
  sed -n '1,/^<!-- soak -->$/p' docs/RELIABILITY.md
  echo
  echo "Latest run, \`scripts/soak.sh $seconds\` on $(nproc) cores, $(java -version 2>&1 | head -n 1):"
  echo
  cat it/target/soak-report.md
} > docs/RELIABILITY.md.new
mv docs/RELIABILITY.md.new docs/RELIABILITY.md
echo "soak: PASS; docs/RELIABILITY.md updated"
