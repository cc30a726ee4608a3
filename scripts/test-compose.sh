#!/usr/bin/env bash
# The container demo, for real: Dockerfile + docker-compose.yml against a Docker engine.
#  1. installs docker.io, docker-compose and debootstrap (Debian packages) when missing;
#  2. starts dockerd in the background when none answers, and stops that one (by PID) at the end;
#  3. builds local stand-ins for the Dockerfile's two public base images when their tags are
#     missing (scripts/docker-base-images.sh: no image registry is reachable here; cached);
#  4. docker-compose config -q, up -d --build, waits for both containers to be healthy;
#  5. several clients on 127.0.0.1:1987 echo binary data byte-exact (a small Java client run with
#     the host's java);
#  6. while those clients hold their connections open: every established TCP connection on port
#     1987 in the proxy container's network namespace is, by socket inode, an open descriptor of
#     the app container's PID 1 and not of the proxy's, and the app container has no network
#     interface but lo and no TCP socket of its own;
#  7. stops the app container (SIGTERM: must exit 0 within seconds), starts it again, waits for
#     health, and checks that new clients are served;
#  8. brings up the monitoring profile (Prometheus built from Debian's package, and the bridge to
#     the network-less app's metrics) and waits until Prometheus, on 127.0.0.1:9090, reports both
#     targets up and has scraped the handoffs of steps 5-7;
#  9. stops both (exit 0 within seconds each), then down -v.
# Ends with PASS or FAIL, a 'N passed, N failed' line, and exit code 0 or 1. Every wait is bounded.
#
# Needs root (apt-get, dockerd, debootstrap) and java. Environment:
#   HANDOFF_COMPOSE       compose command (default: docker-compose, else docker compose)
#   HANDOFF_IMAGE_CACHE   base image cache (default /var/cache/handoff-images)
#   HANDOFF_KEEP=1        leave the containers up at the end (for a look around)
set -uo pipefail

here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root" || exit 1

export COMPOSE_PROJECT_NAME=handofftest
PORT=1987
CLIENTS=8
BYTES=262144
t_start=$SECONDS
work=$(mktemp -d /tmp/handoff-compose.XXXXXX)
passed=0
failed=0
dockerd_pid=""
compose_up=no

now_ms() { local t; t=$(date +%s%N); echo $((t / 1000000)); }
log() { printf '[test-compose %(%H:%M:%S)T +%3ds] %s\n' -1 "$((SECONDS - t_start))" "$*"; }
ok() { passed=$((passed + 1)); log "ok: $*"; }
fail() {
  failed=$((failed + 1))
  log "FAILED: $*"
  exit 1
}

# shellcheck disable=SC2317  # run by the EXIT trap
finish() {
  local rc=$?
  trap - EXIT
  set +e
  if [[ $rc -ne 0 && $failed -eq 0 ]]; then failed=1; log "FAILED: aborted (exit code $rc)"; fi
  if [[ $compose_up == yes ]]; then
    if [[ $failed -ne 0 ]]; then
      log "compose ps and the last log lines:"
      timeout 30 "${compose[@]}" ps
      timeout 30 "${compose[@]}" logs --no-color --tail 40
    fi
    if [[ ${HANDOFF_KEEP:-0} == 1 ]]; then
      log "HANDOFF_KEEP=1: containers left up (project $COMPOSE_PROJECT_NAME)"
    else
      timeout 120 "${compose[@]}" --profile monitoring down -v --remove-orphans >"$work/down.log" 2>&1 ||
        { log "down -v failed:"; cat "$work/down.log"; }
    fi
  fi
  if [[ -n $client_pid ]]; then kill "$client_pid" 2>/dev/null; fi
  if [[ -n $dockerd_pid && ${HANDOFF_KEEP:-0} != 1 ]]; then
    log "stopping the dockerd this script started (pid $dockerd_pid)"
    kill -TERM "$dockerd_pid" 2>/dev/null
    for _ in $(seq 1 60); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$dockerd_pid" 2>/dev/null; then
      log "dockerd still running after 30 s; SIGKILL"
      kill -KILL "$dockerd_pid" 2>/dev/null
    fi
  fi
  rm -rf "$work"
  local total=$((SECONDS - t_start))
  if [[ $failed -eq 0 && $rc -eq 0 ]]; then
    echo "PASS: container demo ($total s)"
  else
    echo "FAIL: container demo ($total s)"
    rc=1
  fi
  echo "test-compose: $passed passed, $failed failed"
  exit "$rc"
}
client_pid=""
trap finish EXIT
trap 'exit 130' INT TERM

# ---- 1. tools ----
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || need+=(docker-compose)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [[ ${#need[@]} -gt 0 ]]; then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get update -q >"$work/apt.log" 2>&1 &&
    timeout 600 apt-get install -y -q --no-install-recommends "${need[@]}" >>"$work/apt.log" 2>&1 ||
    { tail -20 "$work/apt.log"; fail "apt-get install ${need[*]}"; }
fi
command -v java >/dev/null || fail "java not found (the echo client runs on the host's JDK)"
if [[ -n ${HANDOFF_COMPOSE:-} ]]; then
  read -r -a compose <<<"$HANDOFF_COMPOSE"
elif command -v docker-compose >/dev/null; then
  compose=(docker-compose)
else
  compose=(docker compose)
fi
ok "tools: $(docker --version), $("${compose[@]}" version --short 2>/dev/null || "${compose[@]}" version | head -1)"

# ---- 2. dockerd ----
if ! timeout 10 docker info >/dev/null 2>&1; then
  log "no Docker engine answers; starting dockerd"
  dockerd >"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 60); do
    timeout 5 docker info >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || { tail -20 "$work/dockerd.log"; fail "dockerd exited"; }
    sleep 0.5
  done
  timeout 5 docker info >/dev/null 2>&1 || { tail -20 "$work/dockerd.log"; fail "dockerd did not answer within 30 s"; }
fi
ok "Docker engine $(docker version -f '{{.Server.Version}}' 2>/dev/null) answers"

# ---- 3. base images ----
timeout 900 "$here/docker-base-images.sh" || fail "base image stand-ins"
ok "base images: $(sed -n 's/^FROM \([^ ]*\).*/\1/p' Dockerfile | tr '\n' ' ')"

# ---- 4. compose up ----
"${compose[@]}" config -q || fail "compose config -q"
ok "compose config -q"
# Port taken by something else? Then the test would talk to it: refuse.
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  timeout 60 "${compose[@]}" --profile monitoring down -v --remove-orphans >/dev/null 2>&1   # a leftover of ours?
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then fail "127.0.0.1:$PORT is taken by another process"; fi
fi
timeout 60 "${compose[@]}" --profile monitoring down -v --remove-orphans >/dev/null 2>&1
compose_up=yes
log "compose up -d --build (the first build fetches Maven plugins and dependencies)"
t0=$SECONDS
timeout 900 "${compose[@]}" up -d --build >"$work/up.log" 2>&1 || { tail -40 "$work/up.log"; fail "compose up -d --build"; }
ok "compose up -d --build in $((SECONDS - t0)) s"

cid() { timeout 30 "${compose[@]}" ps -q "$1"; }
health() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$(cid "$1")" 2>/dev/null; }
wait_healthy() {
  local svc t0=$SECONDS
  for svc in "$@"; do
    while [[ $(health "$svc") != healthy ]]; do
      ((SECONDS - t0 < 90)) || fail "$svc not healthy within 90 s (status: $(health "$svc"))"
      sleep 1
    done
  done
  ok "$* healthy within $((SECONDS - t0)) s"
}
wait_healthy app proxy

# ---- 5. echo ----
mkdir -p "$work/client"
cat >"$work/client/EchoClient.java" <<'EOF'
import java.io.*;
import java.net.*;
import java.nio.file.*;
import java.util.*;
import java.util.concurrent.*;

/** EchoClient HOST PORT CLIENTS BYTES [RELEASE_FILE]: opens CLIENTS connections at once, sends
 *  BYTES binary bytes on each (all 256 values, then random) and checks the echo byte for byte.
 *  With RELEASE_FILE it then prints HOLDING and keeps the connections open until that file
 *  exists (at most 60 s). Exit 0 only if every echo matched. */
public class EchoClient {
  public static void main(String[] a) throws Exception {
    String host = a[0];
    int port = Integer.parseInt(a[1]), n = Integer.parseInt(a[2]), size = Integer.parseInt(a[3]);
    Path release = a.length > 4 ? Path.of(a[4]) : null;
    ExecutorService pool = Executors.newCachedThreadPool(r -> { Thread t = new Thread(r); t.setDaemon(true); return t; });
    List<Socket> sockets = new ArrayList<>();
    List<Future<String>> echoes = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Socket s = new Socket();
      s.connect(new InetSocketAddress(host, port), 5000);
      s.setSoTimeout(20000);
      sockets.add(s);
      byte[] data = new byte[size];
      new Random(1987L + i).nextBytes(data);
      for (int j = 0; j < Math.min(256, size); j++) data[j] = (byte) j;
      int id = i;
      pool.submit(() -> { s.getOutputStream().write(data); s.getOutputStream().flush(); return null; });
      echoes.add(pool.submit(() -> {
        byte[] back = s.getInputStream().readNBytes(size);
        if (back.length != size) return "client " + id + ": " + back.length + " of " + size + " bytes came back";
        if (!Arrays.equals(back, data)) return "client " + id + ": the echo differs from what was sent";
        return null;
      }));
    }
    int bad = 0;
    for (int i = 0; i < n; i++) {
      String err;
      try { err = echoes.get(i).get(30, TimeUnit.SECONDS); }
      catch (ExecutionException e) { err = "client " + i + ": " + e.getCause(); }
      catch (TimeoutException e) { err = "client " + i + ": no full echo within 30 s"; }
      if (err != null) { bad++; System.out.println(err); }
      else System.out.println("client " + i + " (local port " + sockets.get(i).getLocalPort() + "): " + size + " bytes echoed byte-exact");
    }
    if (bad == 0 && release != null) {
      System.out.println("HOLDING " + n);
      System.out.flush();
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!Files.exists(release) && System.nanoTime() < end) Thread.sleep(100);
      if (!Files.exists(release)) { System.out.println("not released within 60 s"); bad++; }
    }
    for (Socket s : sockets) s.close();
    System.exit(bad == 0 ? 0 : 1);
  }
}
EOF

# 6. A first round that holds its connections open for the look inside the containers.
rm -f "$work/release"
java "$work/client/EchoClient.java" 127.0.0.1 "$PORT" "$CLIENTS" "$BYTES" "$work/release" >"$work/client.out" 2>&1 &
client_pid=$!
for _ in $(seq 1 120); do
  grep -q '^HOLDING' "$work/client.out" && break
  kill -0 "$client_pid" 2>/dev/null || break
  sleep 0.5
done
cat "$work/client.out"
grep -q '^HOLDING' "$work/client.out" || fail "$CLIENTS clients echoing $BYTES bytes each"
ok "$CLIENTS clients echoed $BYTES binary bytes each, byte-exact"

# Established TCP sockets with local port 1987 in a container's network namespace: their inodes.
# /proc/net/tcp{,6}: sl local_address rem_address st ... inode (10th field); st 01 = ESTABLISHED.
port_hex=$(printf '%04X' "$PORT")
tcp_inodes() {
  timeout 30 "${compose[@]}" exec -T "$1" cat /proc/net/tcp /proc/net/tcp6 |
    while read -r _ local _ st _ _ _ _ _ inode _; do
      [[ $st == 01 && ${local##*:} == "$port_hex" ]] && echo "$inode"
    done | sort -u
}
fd_sockets() {
  timeout 30 "${compose[@]}" exec -T "$1" ls -l /proc/1/fd | sed -n 's/.*socket:\[\([0-9]*\)\].*/\1/p' | sort -u
}
mapfile -t in_proxy_ns < <(tcp_inodes proxy)
mapfile -t in_app_ns < <(tcp_inodes app)
mapfile -t app_fds < <(fd_sockets app)
mapfile -t proxy_fds < <(fd_sockets proxy)
app_ifaces=$(timeout 30 "${compose[@]}" exec -T app ls /sys/class/net | tr -d '\r' | xargs)
log "proxy netns, established on :$PORT: ${#in_proxy_ns[@]} sockets (inodes ${in_proxy_ns[*]})"
log "app container: interfaces '$app_ifaces'; TCP sockets on :$PORT in its netns: ${#in_app_ns[@]}"
log "app PID 1 socket descriptors: ${app_fds[*]}"
log "proxy PID 1 socket descriptors: ${proxy_fds[*]}"
[[ ${#in_proxy_ns[@]} -ge $CLIENTS ]] ||
  fail "expected at least $CLIENTS established connections on :$PORT in the proxy's namespace, saw ${#in_proxy_ns[@]}"
for ino in "${in_proxy_ns[@]}"; do
  printf '%s\n' "${app_fds[@]}" | grep -qx "$ino" || fail "connection socket:[$ino] is not held by the app container's PID 1"
  if printf '%s\n' "${proxy_fds[@]}" | grep -qx "$ino"; then fail "the proxy still holds socket:[$ino]"; fi
done
[[ $app_ifaces == lo ]] || fail "the app container has network interfaces '$app_ifaces', expected only lo"
[[ ${#in_app_ns[@]} -eq 0 ]] || fail "the app container's own namespace has TCP connections on :$PORT"
ok "the app container (interfaces: lo only) holds all ${#in_proxy_ns[@]} TCP connections of the proxy's namespace; the proxy holds none"
echo "--- app container: ls -l /proc/1/fd (sockets) ---"
timeout 30 "${compose[@]}" exec -T app ls -l /proc/1/fd | grep socket
touch "$work/release"
wait "$client_pid"; rc=$?; client_pid=""
[[ $rc -eq 0 ]] || fail "echo client exited $rc"

# ---- 7. the app restarts ----
# stop_service SVC: docker stop sends SIGTERM (SIGKILL after 10 s); the JVM is PID 1 and must
# exit 0 well before that.
stop_service() {
  local svc=$1 id t0 took code
  id=$(cid "$svc")
  t0=$(now_ms)
  timeout 60 docker stop -t 10 "$id" >/dev/null || fail "docker stop $svc"
  took=$(($(now_ms) - t0))
  code=$(docker inspect -f '{{.State.ExitCode}}' "$id")
  [[ $code == 0 && $took -le 5000 ]] || fail "$svc on SIGTERM: exit code $code after $took ms (want 0 within 5 s)"
  ok "$svc stopped by SIGTERM (docker stop): exit code 0 in $took ms"
}
stop_service app
left=$(timeout 60 "${compose[@]}" run --rm --no-deps -T app ls -A /run/handoff 2>/dev/null | tr -d '\r' | xargs)
[[ -z $left ]] || fail "after the app stopped, /run/handoff still holds: $left"
ok "the app removed its socket file on exit"
timeout 60 "${compose[@]}" start app >/dev/null 2>&1 || fail "compose start app"
wait_healthy app
perm=$(timeout 30 "${compose[@]}" exec -T app stat -c '%u:%g %F, mode %a' /run/handoff/pipe.sock | tr -d '\r')
[[ $perm == "10001:10001 socket, mode "* ]] || fail "socket file: '$perm', want one of uid:gid 10001:10001"
ok "app socket file after restart: $perm"
java "$work/client/EchoClient.java" 127.0.0.1 "$PORT" "$CLIENTS" "$BYTES" >"$work/client2.out" 2>&1 &
client_pid=$!
for _ in $(seq 1 120); do kill -0 "$client_pid" 2>/dev/null || break; sleep 0.5; done
kill -0 "$client_pid" 2>/dev/null && fail "echo client still running after 60 s"
wait "$client_pid"; rc=$?; client_pid=""
cat "$work/client2.out"
[[ $rc -eq 0 ]] || fail "echo after the app restarted (client exit $rc)"
ok "after the app restarted, $CLIENTS new clients echoed byte-exact"

# ---- 8. the monitoring profile ----
# http_get PATH: Prometheus's API on the published port, with bash alone (no curl needed).
http_get() {
  timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/9090 &&
    printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$1" >&3 && cat <&3' _ "$1" 2>/dev/null
}
log "compose --profile monitoring up -d --build (Prometheus from Debian's package)"
t0=$SECONDS
timeout 900 "${compose[@]}" --profile monitoring up -d --build >"$work/up-monitoring.log" 2>&1 ||
  { tail -40 "$work/up-monitoring.log"; fail "compose --profile monitoring up -d --build"; }
ok "monitoring profile up in $((SECONDS - t0)) s"
t0=$SECONDS
up_query='/api/v1/query?query=sum%28up%7Bjob%3D~%22handoff-.%2A%22%7D%29'
until [[ $(http_get "$up_query") == *'"2"]'* ]]; do
  ((SECONDS - t0 < 90)) || { http_get /api/v1/targets; fail "Prometheus does not report both targets up within 90 s"; }
  sleep 1
done
targets=$(http_get '/api/v1/targets?state=active')
[[ $targets == *'"job":"handoff-proxy"'* && $targets == *'"job":"handoff-app"'* ]] ||
  fail "Prometheus's targets are not handoff-proxy and handoff-app: $targets"
ok "Prometheus (127.0.0.1:9090) reports both targets up, handoff-proxy and handoff-app, within $((SECONDS - t0)) s"
adopted=$(http_get '/api/v1/query?query=handoff_proxy_handoffs_acknowledged_total%7Bstatus%3D%22adopted%22%7D' |
  sed -n 's/.*"value":\[[^,]*,"\([0-9.e+]*\)"\].*/\1/p')
[[ -n $adopted && ${adopted%%.*} -ge $((2 * CLIENTS)) ]] ||
  fail "Prometheus shows $adopted handoffs adopted, expected at least $((2 * CLIENTS))"
rules=$(http_get /api/v1/rules)
[[ $rules == *'"name":"HandoffNoAppLinked"'* && $rules == *'job:handoff_proxy_handoffs_adopted:rate1m'* ]] ||
  fail "Prometheus did not load the shipped rules"
ok "Prometheus shows $adopted handoffs adopted and has the shipped recording and alerting rules"

# ---- 9. stop, down ----
stop_service proxy
stop_service app
if [[ ${HANDOFF_KEEP:-0} != 1 ]]; then
  timeout 120 "${compose[@]}" --profile monitoring down -v --remove-orphans >"$work/down.log" 2>&1 || { cat "$work/down.log"; fail "compose down -v"; }
  compose_up=no
  docker volume inspect "${COMPOSE_PROJECT_NAME}_handoff-run" >/dev/null 2>&1 && fail "volume still there after down -v"
  ok "compose down -v"
fi
exit 0
