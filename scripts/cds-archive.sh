#!/usr/bin/env bash
# Makes the class-data sharing (AppCDS) archives that scripts/launch.sh hands the JVM, so that a
# proxy or an app, and above all a successor started with `app --take-over`, loads its classes
# from a mapped archive instead of parsing and verifying them from the jar. The build runs it at
# package time (app and proxy modules); run it again after installing the jars elsewhere or to use
# another JDK (HANDOFF_JAVA, JAVA_HOME): an archive belongs to one JDK build and one jar, and the
# launcher uses only the one made for both (scripts/launch.sh, HANDOFF_CDS). On Java 17 a static
# CDS archive; on Java 25 and later an AOT cache (JEP 483), written by the training run itself
# (-XX:AOTCacheOutput, JEP 514): for the app the successor's (the app that takes over), for the
# proxy the proxy's. On other versions the launcher uses none and this script makes none.
#
#   scripts/cds-archive.sh [proxy] [app]      (default: both)
#
# Training, in a temporary directory, on 127.0.0.1: for the proxy, a proxy started with
# -XX:DumpLoadedClassList that links to an app, hands it 70 connections and stops (SIGTERM);
# for the app, an app that takes over (--take-over) from a running one, receives 70
# connections, echoes on them and stops (the app's class list has both apps' classes: handing
# over and taking over). From each class list, -Xshare:dump makes a static
# archive (the JDK's classes and the jar's, class files older than Java 6 included, which a dynamic
# archive, -XX:ArchiveClassesAtExit, leaves out). Each archive is written under a temporary
# name and renamed into place, so a launcher never maps a half-written one; the archives of
# earlier builds of the jar for the same JDK are removed. Then it keeps a copy of each jar's native
# libraries beside it (junixsocket's, Netty's epoll transport's), which the launcher points them at
# instead of their copying the library to a temporary file at every start. Bounded in time (60 s
# per step). Exits 0 without doing anything if the jars' directories are not writable.
set -uo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
roles=("$@"); [[ ${#roles[@]} -gt 0 ]] || roles=(proxy app)
log() { printf 'cds-archive: %s\n' "$*" >&2; }
want() { local r; for r in "${roles[@]}"; do [[ $r == "$1" ]] && return 0; done; return 1; }
for r in "${roles[@]}"; do
  [[ $r == proxy || $r == app ]] || { log "unknown role $r (proxy, app)"; exit 2; }
done

tmp=$(mktemp -d /tmp/handoff-cds.XXXXXX) || exit 1
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
alive() { [[ -e /proc/$1 ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
wait_for_log() { # FILE TEXT
  local deadline=$(( $(date +%s) + 60 ))
  until grep -q "$2" "$1" 2>/dev/null; do
    [[ $(date +%s) -lt $deadline ]] || { log "'$2' never appeared in $1:"; tail -n 5 "$1" >&2; exit 1; }
    sleep 0.1
  done
}
stop() { # PID: SIGTERM, wait up to 60 s (the JVM writes the archive as it exits)
  local pid=$1
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 600); do alive "$pid" || break; sleep 0.1; done
  # (kill -KILL fails when it ended after the last look: nothing to report then)
  alive "$pid" && kill -KILL "$pid" 2>/dev/null && log "pid $pid did not stop within 60 s"
  wait "$pid" 2>/dev/null
}
# Where the launcher looks for each role's archive (for this JDK and jar). The training runs both
# daemons: without both jars (a build of one module) there is nothing to do.
declare -A target
for r in proxy app; do
  HANDOFF_CDS=path "$here/launch.sh" "$r" >/dev/null 2>"$tmp/path.err" ||
    { log "no archive made: $(cat "$tmp/path.err")"; exit 0; }
done
for r in proxy app; do
  want "$r" || continue
  target[$r]=$(HANDOFF_CDS=path "$here/launch.sh" "$r") || exit 1
  if [[ ! -w $(dirname "${target[$r]}") ]]; then
    log "$(dirname "${target[$r]}") is not writable: no archive for $r"
    unset "target[$r]"
  fi
done
[[ ${#target[@]} -gt 0 ]] || exit 0
# What the training run of ROLE is started with: a class list (Java 17), or the AOT cache it
# writes as it exits (Java 25 and later: the target ends in .aot), or nothing.
aot() { [[ ${target[$1]:-} == *.aot ]]; }
dump() {
  if aot "$1"; then echo "aot:$tmp/$1.aot"
  elif [[ -n ${target[$1]:-} ]]; then echo "classlist:$tmp/$1.classlist"
  else echo off; fi
}

port=""
for _ in $(seq 1 100); do
  p=$((20000 + RANDOM % 10000))
  grep -q ":$(printf '%04X' "$p") " /proc/net/tcp /proc/net/tcp6 2>/dev/null && continue
  (exec 5<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
  port=$p; break
done
[[ -n $port ]] || { log "no free port"; exit 1; }

sock=$tmp/app.sock
app0_cds=off
[[ -n ${target[app]:-} ]] && ! aot app && app0_cds=classlist:$tmp/app0.classlist
# The app's class list has both sides of a take-over: this app hands over, the next one takes.
HANDOFF_CDS=$app0_cds "$here/app" "$sock" >"$tmp/app0.log" 2>&1 &
app0=$!; pids+=("$app0")
wait_for_log "$tmp/app0.log" "for proxy links"
HANDOFF_CDS=$(dump proxy) "$here/proxy" --bind 127.0.0.1 "$port" "$sock" >"$tmp/proxy.log" 2>&1 &
proxy=$!; pids+=("$proxy")
wait_for_log "$tmp/proxy.log" "linked to app"
# Clients, each echoing a line before and after the take-over: more than one batch of a take-over
# (64 descriptors to a message, 32 connections served per turn of the new app's event loop), so
# that the training runs every path a take-over of many connections runs, and the archive holds
# what those load (a lambda spun at the first take-over of more than 32 connections took 10 ms of
# the new app's event loop while its clients waited).
clients=70 fds=()
echo_line() { # FD TEXT: sends a line and reads it back
  printf '%s\n' "$2" >&"$1"; local line; read -r -t 30 line <&"$1" && [[ $line == "$2" ]]
}
for i in $(seq 1 "$clients"); do
  exec {fd}<>"/dev/tcp/127.0.0.1/$port" || exit 1
  fds+=("$fd")
  echo_line "$fd" "before $i" || { log "no echo before the take-over"; exit 1; }
done
HANDOFF_CDS=$(dump app) "$here/app" --take-over "$sock" >"$tmp/app1.log" 2>&1 &
app1=$!; pids+=("$app1")
for _ in $(seq 1 600); do alive "$app0" || break; sleep 0.1; done
wait_for_log "$tmp/app0.log" "handed $clients connections over"
for fd in "${fds[@]}"; do
  echo_line "$fd" "after $fd" || { log "no echo after the take-over"; exit 1; }
  exec {fd}>&-
done
stop "$proxy"; stop "$app1"; stop "$app0"
pids=()
rc=0
# A static archive from each class list (see scripts/launch.sh, HANDOFF_CDS=static:LIST:ARCHIVE).
# The app's list is both apps' lists merged: each line as many times as in the list that has it
# most often, not once. A class list names a lambda proxy once per call site that made one, and
# identical lines are distinct call sites (logback's PatternLayout, say, makes `DateConverter::new`
# at two): the archive holds one proxy class per line and hands each out once, so a line dropped
# as a duplicate is a proxy spun again at every start.
if [[ -s $tmp/app0.classlist && -s $tmp/app.classlist ]]; then
  awk 'FNR == 1 { delete n } { n[$0]++; if (n[$0] > most[$0]) { most[$0] = n[$0]; print } }' \
    "$tmp/app.classlist" "$tmp/app0.classlist" >"$tmp/app.classlist.merged" &&
    mv -f "$tmp/app.classlist.merged" "$tmp/app.classlist"
fi
for r in "${!target[@]}"; do
  [[ -s $tmp/$r.classlist ]] || continue
  aot "$r" && continue
  HANDOFF_CDS="static:$tmp/$r.classlist:$tmp/$r.jsa" timeout -k 5 60 "$here/launch.sh" "$r" \
    >"$tmp/$r-dump.log" 2>&1 ||
    { log "$r: -Xshare:dump failed: $(tail -n 3 "$tmp/$r-dump.log")"; rm -f "$tmp/$r.jsa"; }
done
for r in "${!target[@]}"; do
  made=$tmp/$r.jsa; aot "$r" && made=$tmp/$r.aot
  if [[ -s $made ]] && mv -f "$made" "${target[$r]}"; then
    log "$r: ${target[$r]}"
    # Archives of earlier builds of this jar for the same JDK (NAME.cds-JDK-JAR.jsa, or
    # NAME.aot-JDK-JAR.aot) are stale.
    for old in "${target[$r]%-*}"-*."${target[$r]##*.}"; do
      [[ $old == "${target[$r]}" ]] || rm -f "$old"
    done
  else
    log "$r: the JVM wrote no archive (see its log: $(grep -i 'cds\|error' "$tmp/$r"*.log | head -n 3))"
    rc=1
  fi
done
# Kept copies of the native libraries, for the launcher (scripts/launch.sh, native-path): each
# jar's junixsocket and Netty epoll libraries for this machine, extracted with the JDK's jar tool
# under a temporary name and renamed into place; the copies of earlier builds of the jar removed.
natives() { # ROLE
  local dir jar tool arch netty entries tmpdir old
  dir=$(HANDOFF_CDS=native-path "$here/launch.sh" "$1") || return 1
  jar=${dir%.native-*}.jar
  for old in "${jar%.jar}".native-*; do
    [[ $old == "$dir" || ! -d $old ]] || rm -rf "$old"
  done
  [[ -d $dir ]] && return 0
  tool=${JAVA_HOME:+$JAVA_HOME/bin/jar}
  [[ -x ${tool:-} ]] || tool=$(command -v jar) || { log "$1: no jar tool: no kept native libraries"; return 0; }
  case $(uname -m) in
    x86_64) arch=amd64 netty=x86_64 ;;
    aarch64) arch=aarch64 netty=aarch_64 ;;
    *) return 0 ;;
  esac
  entries=$("$tool" tf "$jar" | grep -E "^(lib/$arch-Linux-clang/jni/libjunixsocket-native-[0-9.]+\.so|META-INF/native/libnetty_transport_native_epoll_$netty\.so)$")
  [[ -n $entries ]] || return 0
  tmpdir=$(mktemp -d "$dir.XXXXXX") || return 1
  # shellcheck disable=SC2086
  if (cd "$tmpdir" && "$tool" xf "$jar" $entries && find . -mindepth 2 -name '*.so' -exec mv {} . \; &&
      find . -mindepth 1 -type d -exec rm -rf {} +) && chmod 755 "$tmpdir" && mv -T "$tmpdir" "$dir"; then
    log "$1: native libraries kept in $dir"
  else
    rm -rf "$tmpdir"; log "$1: could not keep the native libraries"
  fi
}
for r in "${!target[@]}"; do
  natives "$r"
done
exit $rc
