#!/usr/bin/env bash
# The project's test command, for a fresh Debian 12 machine (run as root, or with sudo available):
# installs what the tests need when it is missing, then runs every unit and integration test.
#   scripts/test.sh [MAVEN-OPTIONS...]
# Options are passed to Maven: -Dhandoff.seeds=DIR, the directory of the project's design
# documents, also builds and runs the Go proxy and app that one of them defines (InteropIT).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

need=()
command -v mvn >/dev/null || need+=(maven)
command -v javac >/dev/null || need+=(openjdk-17-jdk-headless)
command -v lsof >/dev/null || need+=(lsof)
# curl, for HttpExampleIT (a real HTTP client on keep-alive connections).
command -v curl >/dev/null || need+=(curl)
# wrk, for SpringExampleIT (a thousand requests from a load tool through the proxy).
command -v wrk >/dev/null || need+=(wrk)
# Debian's gRPC for Python, for GrpcExampleIT (a non-Java gRPC client); /usr/bin/python3's.
/usr/bin/python3 -c 'import grpc' >/dev/null 2>&1 || need+=(python3-grpcio)
# Debian's prometheus and promtool, for PrometheusIT (deploy/prometheus/).
{ command -v prometheus && command -v promtool; } >/dev/null || need+=(prometheus)
# Go and a C compiler, for InteropIT: a runc-style Go sender and a C sender (and, with
# -Dhandoff.seeds, a Go proxy and app) are built in the test.
command -v go >/dev/null || need+=(golang-go)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
# HAProxy, for ProxyProtocolIT: a real load balancer sending PROXY protocol v1 and v2 headers.
{ command -v haproxy || [[ -x /usr/sbin/haproxy ]]; } >/dev/null || need+=(haproxy)
# ss (iproute2), for ProxyUpgradeIT: the control socket's accept queue.
command -v ss >/dev/null || need+=(iproute2)
# openssl, for RoutingIT: the test's certificate, and s_client as a real TLS client.
command -v openssl >/dev/null || need+=(openssl)
if [[ ${#need[@]} -gt 0 ]]; then
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
  if [[ " ${need[*]} " == *" prometheus "* && -d /run/systemd/system ]]; then
    # The package enables and starts a server on every interface (port 9090); the tests start
    # their own, on loopback, for the length of a test.
    $sudo systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  fi
fi

mvn -B -ntp verify "$@"
