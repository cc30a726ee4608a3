#!/usr/bin/env bash
# Where a connection's server CPU goes: the direct app (`app --direct-port`, the same
# engine accepting its own connections) against the handoff pair (`proxy` + `app`), side by side on
# the same load, broken down per process by where the CPU was spent (the kernel by system call,
# Java code, the JVM itself, libc, the native parts of Netty and junixsocket) and, with
# --syscalls, how many system calls of each kind each connection costs.
#
#   scripts/bench-profile.sh [--seconds 4] [--warmup 4] [--rounds 2] [--syscalls] [--sni | --rr]
#                            [--nio]
#
# --nio compares the direct app with the floor a Java user compares with instead: the plain JDK
# NIO echo (dev.handoff.bench.NioEcho, one selector thread, -XX:+UseSerialGC -Xms32m), on the same
# load (with --rr, the round trips; otherwise the connections); the rows are then direct and nio.
#
# --sni compares routing instead: a proxy without routes (port) against a proxy with
# --route sni:bench.example=SOCKET --route default=SOCKET (sni), both in front of the same app, each
# connection sending the JDK's ClientHello for bench.example (LoadGen --tls-hello) and reading it
# back; the rows are then the two proxies and the app under each.
#
# --rr profiles the suite's scenario 2 instead (64 persistent connections, 64-byte ping-pong,
# LoadGen rr --conns 64 --size 64) and reports per round trip: both targets are warmed the same
# (WARMUP s of scenario 1, then WARMUP s of scenario 2, each); in each round the load generator
# connects, runs 1 s unmeasured and then SECONDS + 3 s; perf samples SECONDS s from 1.5 s after the
# 64 connections are up, and the round trips in that window are the load generator's rate x
# SECONDS. A row "all, /proc (load generator's window)" gives the same total from
# /proc/PID/task/*/stat over the load generator's own window (LoadGen --cpu), as bench.sh does.
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
seconds=4; warmup=4; rounds=2; syscalls=0; sni=0; rr=0; nio=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) seconds=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --syscalls) syscalls=1 ;;
    --sni) sni=1 ;;
    --rr) rr=1 ;;
    --nio) nio=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-profile.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $seconds =~ ^[1-9][0-9]?$ && $warmup =~ ^[0-9]+$ && $rounds =~ ^[1-9]$ ]] ||
  { echo "bench-profile.sh: --seconds 1-99, --warmup N, --rounds 1-9" >&2; exit 2; }
[[ $sni == 0 || $rr == 0 ]] || { echo "bench-profile.sh: --sni or --rr, not both" >&2; exit 2; }
[[ $sni == 0 || $nio == 0 ]] || { echo "bench-profile.sh: --sni or --nio, not both" >&2; exit 2; }
command -v perf >/dev/null || die "perf is not installed (Debian: apt-get install linux-perf)"
[[ $syscalls == 0 ]] || command -v strace >/dev/null || die "strace is not installed"
for jar in app/target/handoff-app.jar proxy/target/handoff-proxy.jar bench/target/handoff-bench.jar; do
  [[ -f $root/$jar ]] || die "$jar is missing: build first (mvn -DskipTests package)"
done
ulimit -n 20000 2>/dev/null || die "cannot raise the open-file limit to 20000"

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
tmp=$(mktemp -d /tmp/handoff-profile.XXXXXX)
trap cleanup EXIT
trap 'exit 130' INT TERM
direct_port=$(free_port); handoff_port=$(free_port)
if [[ $sni == 0 ]]; then
  targets=(direct handoff); load=(--size 32)
  [[ $rr == 0 ]] || load=(--conns 64 --size 64)
  "$root/scripts/app" --direct-port "$direct_port" "$tmp/direct.sock" >"$tmp/direct.log" 2>&1 &
  direct_pid=$!; pids+=("$direct_pid")
  wait_for_log "$tmp/direct.log" "accepting TCP directly" 60
else
  # "direct" is the proxy without routes here, "handoff" the one routing by server name.
  targets=(port sni); load=(--size 32 --tls-hello bench.example)
fi
if [[ $nio == 1 ]]; then
  targets=(direct nio)
  java -XX:+UseSerialGC -Xms32m -cp "$root/bench/target/handoff-bench.jar" dev.handoff.bench.NioEcho \
    --port "$handoff_port" >"$tmp/nio.log" 2>&1 &
  nio_pid=$!; pids+=("$nio_pid")
  wait_for_log "$tmp/nio.log" "listening on" 60
else
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
fi

loadgen() { # TIMEOUT ARGS...: the load generator, bounded in time
  local limit=$1; shift
  timeout -k 5 "$limit" java -XX:+UseSerialGC -Xms64m -Xmx512m \
    -cp "$root/bench/target/handoff-bench.jar" dev.handoff.bench.LoadGen "$@" --host 127.0.0.1
}
connections() { sed -n 's/.* connections=\([0-9]*\).*/\1/p' "$1" | head -n 1; }
port_of() { [[ $1 == "${targets[0]}" ]] && echo "$direct_port" || echo "$handoff_port"; }
# The processes whose CPU counts for a target, as LABEL:PID. With --sni the app serves both.
procs_of() {
  if [[ $nio == 1 ]]; then
    [[ $1 == direct ]] && echo "direct:$direct_pid" || echo "nio:$nio_pid"
  elif [[ $sni == 1 ]]; then
    [[ $1 == port ]] && echo "portproxy:$direct_pid portapp:$app_pid" || echo "proxy:$proxy_pid app:$app_pid"
  else
    [[ $1 == direct ]] && echo "direct:$direct_pid" || echo "proxy:$proxy_pid app:$app_pid"
  fi
}

for t in "${targets[@]}"; do
  if [[ $rr == 0 ]]; then
    log "warm-up on $t, $warmup s"
    loadgen $((warmup + 60)) connrate --port "$(port_of "$t")" --inflight 32 "${load[@]}" \
      --seconds "$warmup" --warmup 0 >"$tmp/warmup.$t" 2>&1 || die "warm-up on $t: $(tail -n 3 "$tmp/warmup.$t")"
  else
    # The same for both: the connection path (which hands off) and then the round-trip path.
    log "warm-up on $t, $warmup s of scenario 1 then $warmup s of scenario 2"
    loadgen $((warmup + 60)) connrate --port "$(port_of "$t")" --inflight 32 --size 32 \
      --seconds "$warmup" --warmup 0 >"$tmp/warmup.$t" 2>&1 || die "warm-up on $t: $(tail -n 3 "$tmp/warmup.$t")"
    loadgen $((warmup + 60)) rr --port "$(port_of "$t")" "${load[@]}" \
      --seconds "$warmup" --warmup 0 >"$tmp/warmup-rr.$t" 2>&1 || die "rr warm-up on $t: $(tail -n 3 "$tmp/warmup-rr.$t")"
  fi
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
  # By thread group: the thread's name without its numbers (echo-2-1 counts under echo).
  perf report -i "$1" --no-children --sort comm --stdio -n -g none 2>/dev/null | awk '
    /^ +[0-9.]+%/ {
      n = $2; $1 = ""; $2 = ""; d = $0; sub(/^ +/, "", d)
      gsub(/[0-9]+/, "", d); gsub(/[- ]+$/, "", d); gsub(/--+/, "-", d); gsub(/ /, "_", d)
      s[d] += n
    }
    END { for (c in s) printf "thr:%s\t%d\n", c, s[c] }'
}

declare -A samples conns
# --rr: the server processes as LoadGen --cpu wants them, and the server side of a target's
# established connections (the app's, for the handoff: it holds the accepted sockets).
cpu_spec() { procs_of "$1" | tr ' ' ','; }
established() { ss -Htn state established "( sport = :$1 )" 2>/dev/null | wc -l; }
rr_round() { # TARGET ROUND: one measured round of scenario 2; prints the round trips in perf's window
  local t=$1 r=$2 lg p pp perf_pids=() rate
  loadgen $((seconds + 60)) rr --port "$(port_of "$t")" "${load[@]}" --seconds $((seconds + 3)) \
    --warmup 1 --cpu "$(cpu_spec "$t")" >"$tmp/run.$t.$r" 2>&1 &
  lg=$!
  for _ in $(seq 1 300); do [[ $(established "$(port_of "$t")") -ge 64 ]] && break; sleep 0.1; done
  [[ $(established "$(port_of "$t")") -ge 64 ]] || die "rr on $t: the 64 connections never came up"
  sleep 1.5
  for p in $(procs_of "$t"); do
    timeout -k 5 $((seconds + 30)) perf record -q -e cpu-clock -F 999 -g -p "${p#*:}" \
      -o "$tmp/perf.$t.${p%%:*}.$r" -- sleep "$seconds" >/dev/null 2>&1 &
    perf_pids+=("$!")
  done
  for pp in "${perf_pids[@]}"; do wait "$pp"; done
  wait "$lg" || die "rr on $t: $(tail -n 3 "$tmp/run.$t.$r")"
  grep -q 'errors=0 ' "$tmp/run.$t.$r" && grep -q 'mismatches=0' "$tmp/run.$t.$r" ||
    die "rr on $t: errors or wrong bytes: $(tail -n 1 "$tmp/run.$t.$r")"
  rate=$(sed -n 's/.* rate=\([0-9.]*\).*/\1/p' "$tmp/run.$t.$r" | head -n 1)
  awk -v r="$rate" -v s="$seconds" 'BEGIN { printf "%d", r * s }'
}
declare -A proc_ms proc_ops
per_round=""
for r in $(seq 1 "$rounds"); do
  for t in "${targets[@]}"; do
    if [[ $rr == 1 ]]; then
      n=$(rr_round "$t" "$r") || exit 1
      conns[$t]=$(( ${conns[$t]:-0} + n ))
      ops=$(sed -n 's/.* round_trips=\([0-9]*\).*/\1/p' "$tmp/run.$t.$r" | head -n 1)
      for p in $(procs_of "$t"); do
        ms=$(sed -n "s/.* cpu_ms.${p%%:*}=\([0-9.]*\).*/\1/p" "$tmp/run.$t.$r" | head -n 1)
        proc_ms[${p%%:*}]=$(awk -v a="${proc_ms[${p%%:*}]:-0}" -v b="${ms:-0}" 'BEGIN { print a + b }')
        proc_ops[${p%%:*}]=$(( ${proc_ops[${p%%:*}]:-0} + ops ))
        per_round+="$t $r ${p%%:*} $(awk -v m="${ms:-0}" -v o="$ops" 'BEGIN { printf "%.2f", m * 1000 / o }') $(grep -o 'cpu_threads.'"${p%%:*}"'=[^ ]*' "$tmp/run.$t.$r")"$'\n'
      done
      log "round $r, $t: $(grep -o 'rate=[0-9.]*\|rtt_p50_us=[0-9.]*' "$tmp/run.$t.$r" | tr '\n' ' ')($n round trips in perf's $seconds s)"
    else
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
    fi
    for p in $(procs_of "$t"); do
      while IFS=$'\t' read -r cat count; do
        key="${p%%:*}|$cat"
        samples[$key]=$(( ${samples[$key]:-0} + count ))
      done < <(categories "$tmp/perf.$t.${p%%:*}.$r")
    done
  done
done

# The unit of work: a connection, or with --rr a round trip (finer figures: a few µs each).
op=connection; ops=connections; fmt=%.1f; min_row=0.5
[[ $rr == 0 ]] || { op="round trip"; ops="round trips"; fmt=%.2f; min_row=0.1; }
us() { # SAMPLES OPERATIONS: microseconds of CPU per operation at 999 samples a second
  awk -v s="$1" -v n="$2" -v f="$fmt" 'BEGIN { if (n == 0) print "-"; else printf f, s * 1e6 / 999 / n }'
}
# Columns: each process, then each target with more than one process in total. A process's
# connections are its target's.
declare -A target_of
cols=()
for t in "${targets[@]}"; do
  for p in $(procs_of "$t"); do cols+=("${p%%:*}"); target_of[${p%%:*}]=$t; done
done
echo "Server CPU per $op by where it was spent (perf, cpu-clock at 999 Hz, $rounds rounds of $seconds s;"
echo "$ops: ${targets[0]} ${conns[${targets[0]}]}, ${targets[1]} ${conns[${targets[1]}]}), µs:"
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
if [[ $rr == 1 ]]; then
  line="| all, /proc (load generator's window) |"
  for c in "${cols[@]}"; do
    line+=" $(awk -v m="${proc_ms[$c]}" -v o="${proc_ops[$c]}" 'BEGIN { printf "%.2f", m * 1000 / o }') |"
  done
  for t in "${targets[@]}"; do
    [[ $(procs_of "$t" | wc -w) -gt 1 ]] || continue
    line+=" $(for c in "${cols[@]}"; do [[ ${target_of[$c]} == "$t" ]] && echo "${proc_ms[$c]} ${proc_ops[$c]}"; done |
      awk '{ m += $1; o = $2 } END { printf "%.2f", m * 1000 / o }') |"
  done
  echo "$line"
fi
rows_over() { # PREFIX LABEL: a row for each PREFIX:NAME category costing at least min_row µs
  # per operation in some process
  local c m proc v
  while read -r c; do
    [[ $c == "$1":* ]] || continue
    m=0
    for proc in "${cols[@]}"; do
      v=$(us "${samples[$proc|$c]:-0}" "${conns[${target_of[$proc]}]}")
      awk -v v="$v" -v t="$min_row" 'BEGIN { exit !(v >= t) }' && m=1
    done
    [[ $m == 1 ]] && row "$2: ${c#"$1":}" "$c"
  done <<<"$rows"
}
rows_over thr threads
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
rows_over sys kernel

if [[ $syscalls == 1 ]]; then
  echo
  echo "System calls per $op (strace -f -c over one $seconds s window per target; strace slows"
  echo "the servers, so only the counts are used):"
  declare -A calls
  for t in "${targets[@]}"; do
    st_pids=()
    for p in $(procs_of "$t"); do
      timeout -k 5 $((seconds + 30)) strace -f -c -qq -p "${p#*:}" -o "$tmp/strace.${p%%:*}" &
      st_pids+=("$!")
    done
    sleep 1
    if [[ $rr == 1 ]]; then
      # The whole run, connecting included (64 connections against tens of thousands of round trips).
      loadgen $((seconds + 60)) rr --port "$(port_of "$t")" "${load[@]}" \
        --seconds "$seconds" --warmup 0 >"$tmp/strace-run.$t" 2>&1 || die "rr under strace on $t"
    else
      loadgen $((seconds + 60)) connrate --port "$(port_of "$t")" --inflight 8 "${load[@]}" \
        --seconds "$seconds" --warmup 0 >"$tmp/strace-run.$t" 2>&1 || die "connrate under strace on $t"
    fi
    sleep 0.5
    for sp in "${st_pids[@]}"; do kill -INT "$sp" 2>/dev/null; wait "$sp" 2>/dev/null; done
    if [[ $rr == 1 ]]; then
      n=$(sed -n 's/.* round_trips=\([0-9]*\).*/\1/p' "$tmp/strace-run.$t" | head -n 1)
    else
      n=$(connections "$tmp/strace-run.$t")
    fi
    for p in $(procs_of "$t"); do
      while read -r name count; do calls[${p%%:*}|$name]=$(awk -v c="$count" -v n="$n" 'BEGIN { printf "%.3f", c / n }')
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
      awk -v v="$v" -v t="$([[ $rr == 1 ]] && echo 0.005 || echo 0.05)" 'BEGIN { exit !(v >= t) }' && m=1
    done
    [[ $m == 1 ]] && echo "$line"
  done
fi
if [[ $rr == 1 ]]; then
  echo
  echo "Per round, from /proc over the load generator's window (target round process µs/round-trip thread-groups-ms):"
  printf '%s' "$per_round"
fi
echo
echo "load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(nproc) cores"
