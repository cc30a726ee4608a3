#!/usr/bin/env bash
# The project's test command, for a fresh Debian 12 machine (run as root, or with sudo available):
# installs what the tests need when it is missing, then runs every unit and integration test.
#   scripts/test.sh
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

need=()
command -v mvn >/dev/null || need+=(maven)
command -v javac >/dev/null || need+=(openjdk-17-jdk-headless)
command -v lsof >/dev/null || need+=(lsof)
if [[ ${#need[@]} -gt 0 ]]; then
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

mvn -B -ntp verify
