#!/usr/bin/env bash
# Where a connection's server CPU goes (issue 10): the direct app (`app --direct-port`, the same
# engine accepting its own connections) against the handoff pair (`proxy` + `app`), side by side on
# the same load, broken down per process by where the CPU was spent (the kernel by system call,
# Java code, the JVM itself, libc, the native parts of Netty and junixsocket) and, with
# --syscalls, how many system calls of each kind each connection costs.
#
#   scripts/bench-profile.sh [--seconds 4] [--warmup 4] [--rounds 2] [--syscalls] [--sni]
#
# --sni compares routing instead: a proxy without routes (port) against a proxy with
# --route sni:bench.example=SOCKET --route default=SOCKET (sni), both in front of the same app, each
# connection sending the JDK's ClientHello for bench.example (LoadGen --tls-hello) and reading it
# back; the rows are then the two proxies and the app under each.
#
# Steps, on 127.0.0.1 with the launchers' default options: both targets warm up with the suite's
# scenario 1 (connect, echo 32 bytes, close; 32 in flight) for WARMUP s; then, alternating targets
# for ROUNDS rounds, the same load for SECONDS s while `perf record -e cpu-clock -F 999` samples
# every thread of the target's server processes (software clock: this VM has no hardware
# counters). A sample stands for 1/999 s of CPU, so samples x 1001 us / connections is CPU per
# connection; the total agrees with /proc/PID/stat within perf's own overhead. Kernel time is
# attributed to the system call it ran under (children of `__x64_sys_*`); what remains of the
# kernel's share (interrupts, soft interrupts run on return to user space, page faults) is
# "kernel, other". With --syscalls, `strace -f -c` then counts the calls of each process over one
# more window (strace slows the servers down several times, so it only counts; its timings are
# not used). Needs perf (Debian: linux-perf) and, for --syscalls, strace; the jars
# (mvn -DskipTests package); root or perf_event_paranoid <= 1 for other users' processes.
set -uo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
# shellcheck source=scripts/bench-lib.sh
source "$root/scripts/bench-lib.sh"
seconds=4; warmup=4; rounds=2; syscalls=0; sni=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) seconds=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --syscalls) syscalls=1 ;;
    --sni) sni=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-profile.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $seconds =~ ^[1-9][0-9]?$ && $warmup =~ ^[0-9]+$ && $rounds =~ ^[1-9]$ ]] ||
  { echo "bench-profile.sh: --seconds 1-99, --warmup N, --rounds 1-9" >&2; exit 2; }
command -v perf >/dev/null || die "perf is not installed (Debian: apt-get install linux-perf)"
[[ $syscalls == 0 ]] || command -v strace >/dev/null || die "strace is not installed"
for jar in app/target/handoff-app.jar proxy/target/handoff-proxy.jar bench/target/handoff-bench.jar; do
  [[ -f $root/$jar ]] || die "$jar is missing: build first (mvn -DskipTests package)"
done
ulimit -n 20000 2>/dev/null || die "cannot raise the open-file limit to 20000"

tmp=$(mktemp -d /tmp/handoff-profile.XXXXXX)
trap cleanup EXIT
trap 'exit 130' INT TERM
direct_port=$(free_port); handoff_port=$(free_port)
if [[ $sni == 0 ]]; then
  targets=(direct handoff); load=(--size 32)
  "$root/scripts/app" --direct-port "$direct_port" "$tmp/direct.sock" >"$tmp/direct.log" 2>&1 &
  direct_pid=$!; pids+=("$direct_pid")
  wait_for_log "$tmp/direct.log" "accepting TCP directly" 60
else
  # "direct" is the proxy without routes here, "handoff" the one routing by server name.
  targets=(port sni); load=(--size 32 --tls-hello bench.example)
fi
"$root/scripts/app" "$tmp/handoff.sock" >"$tmp/app.log" 2>&1 &
app_pid=$!; pids+=("$app_pid")
wait_for_log "$tmp/app.log" "for proxy links" 60
if [[ $sni == 1 ]]; then
  "$root/scripts/proxy" --bind 127.0.0.1 "$direct_port" "$tmp/handoff.sock" >"$tmp/proxy-port.log" 2>&1 &
  direct_pid=$!; pids+=("$direct_pid")
  wait_for_log "$tmp/proxy-port.log" "linked to app" 60
  route_args=(--route "sni:bench.example=$tmp/handoff.sock" --route "default=$tmp/handoff.sock")
else
  route_args=()
fi
"$root/scripts/proxy" --bind 127.0.0.1 "${route_args[@]}" "$handoff_port" "$tmp/handoff.sock" >"$tmp/proxy.log" 2>&1 &
proxy_pid=$!; pids+=("$proxy_pid")
wait_for_log "$tmp/proxy.log" "linked to app" 60

loadgen() { # TIMEOUT ARGS...: the load generator, bounded in time
  local limit=$1; shift
  timeout -k 5 "$limit" java -XX:+UseSerialGC -Xms64m -Xmx512m \
    -cp "$root/bench/target/handoff-bench.jar" dev.handoff.bench.LoadGen "$@" --host 127.0.0.1
}
connections() { sed -n 's/.* connections=\([0-9]*\).*/\1/p' "$1" | head -n 1; }
port_of() { [[ $1 == "${targets[0]}" ]] && echo "$direct_port" || echo "$handoff_port"; }
# The processes whose CPU counts for a target, as LABEL:PID. With --sni the app serves both.
procs_of() {
  if [[ $sni == 1 ]]; then
    [[ $1 == port ]] && echo "portproxy:$direct_pid portapp:$app_pid" || echo "proxy:$proxy_pid app:$app_pid"
  else
    [[ $1 == direct ]] && echo "direct:$direct_pid" || echo "proxy:$proxy_pid app:$app_pid"
  fi
}

for t in "${targets[@]}"; do
  log "warm-up on $t, $warmup s"
  loadgen $((warmup + 60)) connrate --port "$(port_of "$t")" --inflight 32 "${load[@]}" \
    --seconds "$warmup" --warmup 0 >"$tmp/warmup.$t" 2>&1 || die "warm-up on $t: $(tail -n 3 "$tmp/warmup.$t")"
done

# One perf report of one process, as "category<TAB>samples" lines: the kernel by system call (their
# children), the rest of the kernel, and user space by shared object.
categories() { # PERF_DATA
  local report total kernel
  report=$(perf report -i "$1" --children --sort sym --stdio -n -g none 2>/dev/null)
  total=$(perf report -i "$1" --no-children --sort dso --stdio -n -g none 2>/dev/null |
    awk '/^ +[0-9.]+%/ { s += $2 } END { print s + 0 }')
  printf 'total\t%s\n' "$total"
  # "__x64_sys_NAME" lines: children %, self %, samples(self), [k], symbol. Children % x total.
  # recvmsg and sendmsg have no __x64_sys_ frame of their own in the call graph here: their __sys_
  # function stands for them (only theirs: __sys_accept4 is also what accept calls).
  awk -v total="$total" '$4 == "[k]" && $5 ~ /^__(x64_)?sys_[a-z0-9_]+$/ {
      name = $5; x = sub(/^__x64_sys_/, "", name); if (!x) sub(/^__sys_/, "", name)
      c = $1; sub(/%/, "", c)
      if (x) { xs[name] = c } else { ss[name] = c }
    }
    END {
      for (n in xs) printf "sys:%s\t%.0f\n", n, xs[n] * total / 100
      for (n in ss) if (!(n in xs) && n ~ /^(recvmsg|sendmsg|recvmmsg|sendmmsg)$/) printf "sys:%s\t%.0f\n", n, ss[n] * total / 100
    }' <<<"$report"
  perf report -i "$1" --no-children --sort dso --stdio -n -g none 2>/dev/null | awk '
    /^ +[0-9.]+%/ {
      n = $2; $1 = ""; $2 = ""; d = $0; sub(/^ +/, "", d)
      if (d ~ /kernel/) c = "kernel"
      else if (d ~ /^\[JIT\]/) c = "java (JIT-compiled code)"
      else if (d ~ /libjvm/) c = "JVM (interpreter, compilers, GC, runtime)"
      else if (d ~ /libc\.so/) c = "libc (system call wrappers)"
      else if (d ~ /netty/) c = "Netty native (epoll)"
      else if (d ~ /junixsocket/) c = "junixsocket native"
      else c = "other native"
      s[c] += n
    }
    END { for (c in s) printf "dso:%s\t%d\n", c, s[c] }'
}

declare -A samples conns
for r in $(seq 1 "$rounds"); do
  for t in "${targets[@]}"; do
    perf_pids=()
    for p in $(procs_of "$t"); do
      timeout -k 5 $((seconds + 30)) perf record -q -e cpu-clock -F 999 -g -p "${p#*:}" \
        -o "$tmp/perf.$t.${p%%:*}.$r" -- sleep $((seconds + 1)) >/dev/null 2>&1 &
      perf_pids+=("$!")
    done
    sleep 0.5
    loadgen $((seconds + 60)) connrate --port "$(port_of "$t")" --inflight 32 "${load[@]}" \
      --seconds "$seconds" --warmup 0 >"$tmp/run.$t.$r" 2>&1 || die "connrate on $t: $(tail -n 3 "$tmp/run.$t.$r")"
    for pp in "${perf_pids[@]}"; do wait "$pp"; done
    n=$(connections "$tmp/run.$t.$r")
    conns[$t]=$(( ${conns[$t]:-0} + n ))
    log "round $r, $t: $n connections in $seconds s"
    for p in $(procs_of "$t"); do
      while IFS=$'\t' read -r cat count; do
        key="${p%%:*}|$cat"
        samples[$key]=$(( ${samples[$key]:-0} + count ))
      done < <(categories "$tmp/perf.$t.${p%%:*}.$r")
    done
  done
done

us() { # SAMPLES CONNECTIONS: microseconds of CPU per connection at 999 samples a second
  awk -v s="$1" -v n="$2" 'BEGIN { if (n == 0) print "-"; else printf "%.1f", s * 1e6 / 999 / n }'
}
# Columns: each process, then each target with more than one process in total. A process's
# connections are its target's.
declare -A target_of
cols=()
for t in "${targets[@]}"; do
  for p in $(procs_of "$t"); do cols+=("${p%%:*}"); target_of[${p%%:*}]=$t; done
done
echo "Server CPU per connection by where it was spent (perf, cpu-clock at 999 Hz, $rounds rounds of $seconds s;"
echo "connections: ${targets[0]} ${conns[${targets[0]}]}, ${targets[1]} ${conns[${targets[1]}]}), µs:"
echo
header="| where |"; rule="|---|"
for c in "${cols[@]}"; do header+=" $c |"; rule+="---:|"; done
for t in "${targets[@]}"; do
  [[ $(procs_of "$t" | wc -w) -gt 1 ]] && { header+=" $t (sum) |"; rule+="---:|"; }
done
echo "$header"; echo "$rule"
rows=$(for k in "${!samples[@]}"; do echo "${k#*|}"; done | sort -u | grep -v '^total$')
row() { # LABEL CATEGORY
  local line="| $1 |" c t v sum
  for c in "${cols[@]}"; do
    line+=" $(us "${samples[$c|$2]:-0}" "${conns[${target_of[$c]}]}") |"
  done
  for t in "${targets[@]}"; do
    [[ $(procs_of "$t" | wc -w) -gt 1 ]] || continue
    sum=0
    for c in "${cols[@]}"; do [[ ${target_of[$c]} == "$t" ]] && sum=$((sum + ${samples[$c|$2]:-0})); done
    line+=" $(us "$sum" "${conns[$t]}") |"
  done
  echo "$line"
}
row "all (every thread)" total
for proc in "${cols[@]}"; do
  sys_sum=0
  for k in "${!samples[@]}"; do [[ $k == "$proc|sys:"* ]] && sys_sum=$((sys_sum + samples[$k])); done
  samples[$proc|kernel, other]=$(( ${samples[$proc|dso:kernel]:-0} - sys_sum ))
done
while read -r c; do
  [[ $c == dso:kernel ]] && continue
  [[ $c == dso:* ]] && row "${c#dso:}" "$c"
done <<<"$rows"
row "kernel, outside system calls" "kernel, other"
# System calls that cost at least 0.5 µs per connection in some process.
while read -r c; do
  [[ $c == sys:* ]] || continue
  m=0
  for proc in "${cols[@]}"; do
    v=$(us "${samples[$proc|$c]:-0}" "${conns[${target_of[$proc]}]}")
    awk -v v="$v" 'BEGIN { exit !(v >= 0.5) }' && m=1
  done
  [[ $m == 1 ]] && row "kernel: ${c#sys:}" "$c"
done <<<"$rows"

if [[ $syscalls == 1 ]]; then
  echo
  echo "System calls per connection (strace -f -c over one $seconds s window per target; strace slows"
  echo "the servers, so only the counts are used):"
  declare -A calls
  for t in "${targets[@]}"; do
    st_pids=()
    for p in $(procs_of "$t"); do
      timeout -k 5 $((seconds + 30)) strace -f -c -qq -p "${p#*:}" -o "$tmp/strace.${p%%:*}" &
      st_pids+=("$!")
    done
    sleep 1
    loadgen $((seconds + 60)) connrate --port "$(port_of "$t")" --inflight 8 "${load[@]}" \
      --seconds "$seconds" --warmup 0 >"$tmp/strace-run.$t" 2>&1 || die "connrate under strace on $t"
    sleep 0.5
    for sp in "${st_pids[@]}"; do kill -INT "$sp" 2>/dev/null; wait "$sp" 2>/dev/null; done
    n=$(connections "$tmp/strace-run.$t")
    for p in $(procs_of "$t"); do
      while read -r name count; do calls[${p%%:*}|$name]=$(awk -v c="$count" -v n="$n" 'BEGIN { printf "%.2f", c / n }')
      done < <(awk '$1 ~ /^[0-9.]+$/ && $NF != "total" { print $NF, $4 }' "$tmp/strace.${p%%:*}")
    done
  done
  header="| system call |"; rule="|---|"
  for c in "${cols[@]}"; do header+=" $c |"; rule+="---:|"; done
  echo "$header"; echo "$rule"
  for name in $(for k in "${!calls[@]}"; do echo "${k#*|}"; done | sort -u); do
    line="| $name |"; m=0
    for c in "${cols[@]}"; do
      v=${calls[$c|$name]:-0}; line+=" $v |"
      awk -v v="$v" 'BEGIN { exit !(v >= 0.05) }' && m=1
    done
    [[ $m == 1 ]] && echo "$line"
  done
fi
echo
echo "load average $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
