#!/bin/sh
# The monitoring containers of docker-compose.yml, one image for both:
#   handoff-prometheus               Prometheus on :9090, plus a relay from 127.0.0.1:9102 to the
#                                    app's metrics through the unix socket on the shared volume
#   handoff-prometheus app-bridge    run in the app's network namespace: serves that unix socket
#                                    and forwards each connection to the app's 127.0.0.1:9102
set -eu
sock=/run/handoff/app-metrics.sock
if [ "${1:-}" = app-bridge ]; then
  exec socat "UNIX-LISTEN:$sock,fork,unlink-early,mode=0600" TCP:127.0.0.1:9102
fi
socat TCP-LISTEN:9102,bind=127.0.0.1,fork,reuseaddr "UNIX-CONNECT:$sock" &
exec prometheus --config.file=/etc/handoff-prometheus/prometheus.yml \
  --storage.tsdb.path=/prometheus --web.listen-address=0.0.0.0:9090 "$@"
