#!/usr/bin/env bash
# Shared by scripts/proxy, scripts/app and the example launchers (http-, tls-, grpc-,
# spring-example): finds the role's jar and runs it with the JVM flags the project needs and the
# role's default JVM options (memory, see below). Not meant to be run directly.
#   HANDOFF_JAVA   java binary (default: $JAVA_HOME/bin/java, else java on PATH)
#   JAVA_OPTS      extra JVM options, e.g. -Xmx256m; they come after the defaults, so each one
#                  overrides the default it contradicts (-XX:+UseG1GC replaces the collector,
#                  -Xmx drops the default -Xms, -XX:TieredStopAtLevel=4 brings back C2, ...)
#   HANDOFF_CDS    off: do not use the class-data sharing archive (see scripts/cds-archive.sh);
#                  path, native-path: print where this JDK's and jar's archive, and the kept
#                  copies of the native libraries, are looked for, and exit
set -euo pipefail
# Every start goes through here, a successor's (app --take-over) too, so it runs as few other
# programs and subshells as it can: bash's own tests, expansions, `hash` and `read` instead of
# dirname, cat, sed, cut and cksum, and one subshell for the three directories whose physical
# paths it needs (each fork took ~4 ms and each program run 5-10 ms on a quiet machine, more on a
# busy one: the launcher took 170 ms before the JVM started, 10-16 ms now). What remains: stat (the
# jar's and the JDK release file's size and time) and readlink where a file is a symbolic link.
role=$1; shift
# absolute VAR PATH: sets VAR to PATH from the root, itself not a symbolic link (readlink -f if
# it is one).
absolute() {
  local p=$2
  [[ -L $p ]] && p=$(readlink -f "$p")
  [[ $p == /* ]] || p=$PWD/$p
  printf -v "$1" '%s' "$p"
}
# fnv VAR TEXT: sets VAR to a 32-bit FNV-1a hash of TEXT, for the archive's name.
fnv() {
  local LC_ALL=C text=$2 h=2166136261 i c
  for ((i = 0; i < ${#text}; i++)); do
    printf -v c '%d' "'${text:i:1}"
    h=$(( ((h ^ (c & 255)) * 16777619) & 4294967295 ))
  done
  printf -v "$1" '%d' "$h"
}
absolute here "${BASH_SOURCE[0]}"; here=${here%/*}
# A role's jar is handoff-ROLE.jar in module ROLE, except for the example programs (examples/).
module=$role name=handoff-$role main=""
case $role in
  http-example) module=examples name=handoff-examples ;;
  tls-example) module=examples name=handoff-examples main=dev.handoff.examples.tls.TlsEchoApp ;;
  spring-example) module=examples-spring name=handoff-examples-spring ;;
  grpc-example) module=examples-grpc name=handoff-example-grpc ;;
esac
jar=""
for candidate in "$here/../lib/$name.jar" "$here/../$module/target/$name.jar"; do
  if [[ -f $candidate ]]; then jar=$candidate; break; fi
done
if [[ -z $jar ]]; then
  echo "$role: $name.jar not found; build it first: mvn -DskipTests package" >&2
  exit 1
fi
absolute jar "$jar"
java=${HANDOFF_JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/java}}
java=${java:-java}
java_bin=$java
if [[ $java != */* ]] && hash "$java" 2>/dev/null; then java_bin=${BASH_CMDS[$java]}; fi
absolute java_bin "$java_bin"
# Their directories' physical paths (symbolic links resolved, as readlink -f gives them): the
# class-data sharing archive is named after the JDK's and found beside the jar, both as the
# archive's maker (scripts/cds-archive.sh, through this script) saw them.
physical=$(for dir in "$here" "${jar%/*}" "${java_bin%/*}"; do
  { cd "${dir:-/}" 2>/dev/null && pwd -P; } || echo "$dir"
done)
mapfile -t physical <<<"$physical"
here=${physical[0]} jar=${physical[1]%/}/${jar##*/} java_bin=${physical[2]%/}/${java_bin##*/}
# The JDK's version and build, from its release file: no extra JVM start (which took 0.1-0.5 s
# of every start, a successor's included). Without a release file, ask the JVM.
jdk_release="" jdk_version=""
if [[ -r ${java_bin%/bin/java}/release ]]; then
  read -r -d '' jdk_release <"${java_bin%/bin/java}/release" || true
fi
version_line=$'(^|\n)JAVA_VERSION="([^"\n]*)"'
[[ $jdk_release =~ $version_line ]] && jdk_version=${BASH_REMATCH[2]}
if [[ -z $jdk_version ]]; then
  jdk_version=$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.version = //p')
  jdk_release="$jdk_version $("$java" -version 2>&1 | tr '\n' ' ')"
fi
major=${jdk_version%%.*}
if [[ $major == 1 ]]; then major=${jdk_version#1.}; major=${major%%.*}; fi
# sun.nio.ch: the descriptor of a JDK socket channel (see JdkNioInternals); opened too, so that a
# proxy taking over (proxy --take-over) can wrap the listening socket it is passed in a JDK channel.
# Native access: junixsocket and Netty's epoll transport load JNI libraries, which Java 22+ warns
# about unless allowed.
flags=(--add-exports=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  --enable-native-access=ALL-UNNAMED)
# The proxy starts its own successor at SIGHUP (proxy --control; Reloader.java): this launcher again,
# so that the successor finds a new jar and its class-data sharing archive as any start would.
if [[ $role == proxy ]]; then
  flags+=("-Dhandoff.launcher=$here/launch.sh")
fi
if [[ ${major:-17} -ge 23 ]]; then
  # Netty still allocates through sun.misc.Unsafe, which Java 24+ warns about unless allowed.
  flags+=(--sun-misc-unsafe-memory-access=allow)
fi
# systemd socket activation (scripts/systemd/proxy.socket): the listening socket arrives as
# descriptor 3, for this very process. The JDK adopts a listening socket only from descriptor 0,
# so move it there and tell the proxy (see SocketActivation.java).
if [[ $role == proxy && ${LISTEN_FDS:-} == 1 && ${LISTEN_PID:-} == "$$" ]]; then
  exec 0<&3 3<&-
  export HANDOFF_LISTEN_FD0=1
  unset LISTEN_FDS LISTEN_PID LISTEN_FDNAMES
fi
# Default JVM options per role, chosen by measurement (scripts/bench-memory.sh; the figures and
# the reasons are in docs/JVM-OPTIONS.md). JAVA_OPTS comes after them.
#   both  -XX:+UseSerialGC: one collector thread and no G1 remembered sets or region bookkeeping;
#         the live heap is small (proxy ~8 MB, app ~2 KB per held connection), so collections are
#         short, and G1 committed and touched hundreds of MB of heap before collecting.
#         -XX:TrimNativeHeapInterval (JDK 17.0.9 and later): return the C heap that the JIT
#         compilers and thread arenas freed to the system every 5 s instead of keeping it.
#   proxy -Xms8m: a small first heap, so the young generation and its resident pages stay small;
#         -XX:TieredStopAtLevel=1: C1 only; C2's compilations took the proxy above 64 MB for a
#         while after a burst, and its work per connection is system calls, which C2 does not
#         speed up (CPU per connection the same within the noise, side by side);
#         -XX:ReservedCodeCacheSize=32m: the proxy compiles little, a smaller code cache.
#         But a proxy that routes by the first bytes (--route sni:/alpn:/host:, or a --config
#         file, which may) parses each ClientHello or request head in Java, and there C2 counts:
#         side by side, 60 against 80 µs of proxy CPU per connection; it keeps C2.
#   app   -Xms32m: the same for the app, whose heap grows with its connections.
#         -Dio.netty.jfr.enabled=false (the app and the examples, Netty's users): Netty 4.2
#         otherwise registers its buffer allocator's Flight Recorder events at its first
#         allocation, whether or not anything records: 7 event classes, which a class-data
#         sharing archive cannot hold, the JFR metadata and ~20 annotation proxies, about 100 ms
#         of a successor's start before its first connection moved. JAVA_OPTS
#         -Dio.netty.jfr.enabled=true brings the events back (a later -D wins).
#         -XX:CompileThresholdScaling=4 (the app only): the JIT compilers wait for four times as
#         many calls and loops before they compile a method. A successor's start runs much code a
#         few hundred times (picocli, logback, Netty's and junixsocket's set-up), which C1 and C2
#         otherwise compiled beside it, on cores the running app and its clients keep busy; what
#         the echo runs per connection reaches the higher thresholds within a second of load.
#         JDK 17, 100 clients pinging (scripts/bench-startup.sh --opts-b, medians): first
#         connection moved at 1026 against 1722 ms, CPU at bound 640 against 920 ms (C1 80-110
#         against 200-220, C2 30 against 110); CPU per round trip the same within the noise;
#         docs/JVM-OPTIONS.md. JAVA_OPTS
#         -XX:CompileThresholdScaling=1 brings back the JVM's thresholds.
peeks=0
if [[ $role == proxy ]]; then
  for a in "$@"; do
    case $a in --route=sni:*|--route=alpn:*|--route=host:*|sni:*|alpn:*|host:*|--config|--config=*) peeks=1 ;; esac
  done
fi
case $role in
  proxy) defaults=(-XX:+UseSerialGC -Xms8m -XX:ReservedCodeCacheSize=32m)
    [[ $peeks == 1 ]] || defaults+=(-XX:TieredStopAtLevel=1) ;;
  *) defaults=(-XX:+UseSerialGC -Xms32m -Dio.netty.jfr.enabled=false)
    [[ $role != app ]] || defaults+=(-XX:CompileThresholdScaling=4) ;;
esac
# Two defaults cannot simply be overridden by a later option: the JVM refuses two collectors, and an
# initial heap above the maximum. So a collector in JAVA_OPTS replaces ours, and a maximum heap
# there (-Xmx, -XX:MaxHeapSize) drops our initial size.
kept=()
for d in "${defaults[@]}"; do
  if [[ $d == -XX:+UseSerialGC && " ${JAVA_OPTS:-} " =~ [[:space:]]-XX:\+Use[A-Za-z0-9]+GC[[:space:]] ]] ||
     [[ $d == -Xms* && " ${JAVA_OPTS:-} " =~ [[:space:]]-(Xmx|XX:MaxHeapSize=)[0-9] ]]; then
    continue
  fi
  kept+=("$d")
done
defaults=("${kept[@]}")
IFS=. read -r -a version_parts <<<"$jdk_version"
update=${version_parts[2]:-0}; update=${update%%[!0-9]*}
if [[ ${major:-0} -gt 17 || ( ${major:-0} -eq 17 && ${update:-0} -ge 9 ) ]]; then
  defaults+=(-XX:TrimNativeHeapInterval=5000)
fi
# Class-data sharing: an archive of the classes this role loads while it starts, takes over and
# serves (scripts/cds-archive.sh makes it; the build runs that at package time). It belongs to one
# JDK build and one jar (path, size, time), which its name carries, so another JDK or a rebuilt jar
# simply finds none and starts as before: the JVM is never given an archive it would refuse.
# On Java 17 a static CDS archive. Java 25 maps such an archive but reports, as errors on every
# start, that --add-exports and --enable-native-access were not given when the JDK's own base
# archive was made; there the launcher uses an AOT cache instead (JEP 483, made in one training
# run with -XX:AOTCacheOutput, JEP 514): the classes loaded and linked, and the profiles, of a
# training run with these very flags. Other versions use neither.
cds=${HANDOFF_CDS:-auto}
aot=0
[[ ${major:-0} -ge 25 ]] && aot=1
if [[ ${major:-0} -ne 17 && $aot == 0 && $cds != off ]]; then
  [[ $cds == path ]] && { echo "$role: no class-data sharing archive on Java $major (only 17, and an AOT cache on 25 and later)" >&2; exit 3; }
  cds=off
fi
# The JDK: its java's path and its release file's size and time, which another build or an
# update in place changes (hashing the file's text instead, a character at a time in bash, took
# ~15 ms of every start); without a release file, what the JVM said of itself. The jar: its size
# and time.
release=${java_bin%/bin/java}/release
if [[ -r $release ]]; then
  stamps=$(stat -c '%s %Y' "$jar" "$release")
  fnv cds_jdk "$java_bin ${stamps#*$'\n'}"
  fnv cds_jar "${stamps%%$'\n'*}"
else
  fnv cds_jdk "$java_bin $jdk_release"
  fnv cds_jar "$(stat -c '%s %Y' "$jar")"
fi
cds_archive=${jar%.jar}.cds-$cds_jdk-$cds_jar.jsa
[[ $aot == 1 ]] && cds_archive=${jar%.jar}.aot-$cds_jdk-$cds_jar.aot
# Native libraries: junixsocket's (both roles) and Netty's epoll transport's (the app and the
# examples) are otherwise copied from the jar to a temporary file at every start and loaded from
# there (~10 % of a successor's main thread before it had bound its socket path). The build keeps
# a copy of each beside the jar (scripts/cds-archive.sh), in a directory named after the jar
# (size, time) like the archive, so a rebuilt jar finds none and starts as before; both libraries
# also fall back to their own copy if loading the kept one fails. JAVA_OPTS come after these and
# override them (-Djava.library.path, -Dorg.newsclub.net.unix.library.override).
native_dir=${jar%.jar}.native-$cds_jar
if [[ ${HANDOFF_CDS:-} == native-path ]]; then echo "$native_dir"; exit 0; fi
if [[ -d $native_dir ]]; then
  for lib in "$native_dir"/libjunixsocket-native-*.so; do
    [[ -f $lib ]] && flags+=("-Dorg.newsclub.net.unix.library.override=$lib")
  done
  # Netty loads from java.library.path before it copies its own; the JDK's own libraries do not
  # use that path (sun.boot.library.path), and nothing else here loads one by name.
  for lib in "$native_dir"/libnetty_transport_native_epoll_*.so; do
    [[ -f $lib && $role != proxy ]] && flags+=("-Djava.library.path=$native_dir")
  done
fi
case $cds in
  path) echo "$cds_archive"; exit 0 ;;
  dump:*) flags+=("-XX:ArchiveClassesAtExit=${cds#dump:}") ;;
  # For scripts/cds-archive.sh on Java 25 and later: aot:FILE trains, and writes the AOT cache FILE
  # as the JVM exits.
  aot:*) flags+=("-XX:AOTCacheOutput=${cds#aot:}") ;;
  # For scripts/cds-archive.sh: classlist:FILE writes the names of the classes loaded (and the
  # lambda forms spun) to FILE; static:LIST:ARCHIVE makes a static archive of the classes named
  # in LIST and in the JDK's own default class list (lib/classlist, what its default archive
  # holds, which a static archive replaces), with this role's flags and defaults, and exits. A
  # static archive, unlike a dynamic one (dump:), also holds the jar's class files older than
  # Java 6, which JDK 17 otherwise parses and verifies at every start.
  classlist:*) flags+=("-XX:DumpLoadedClassList=${cds#classlist:}") ;;
  static:*)
    list=${cds#static:}; list=${list%%:*}
    # The two lists merged, each line as many times as in the list that has it most often: a
    # repeated lambda-proxy line is another call site's proxy (see scripts/cds-archive.sh).
    awk 'FNR == 1 { delete n } { n[$0]++; if (n[$0] > most[$0]) { most[$0] = n[$0]; print } }' \
      "${java_bin%/bin/java}/lib/classlist" "$list" 2>/dev/null >"$list.all"
    exec "$java" -Xshare:dump "-XX:SharedClassListFile=$list.all" \
      "-XX:SharedArchiveFile=${cds#static:*:}" "${flags[@]}" "${defaults[@]}" -cp "$jar" ;;
  off) ;;
  *) if [[ -r $cds_archive && $aot == 1 ]]; then flags+=("-XX:AOTCache=$cds_archive")
       # The app (a successor above all) does not replay the training run's profiles: with them
       # the JIT compilers compile at once what was hot in training, ~300 ms more of their CPU
       # before the socket path is bound, on a machine whose cores are taken by the running app
       # and its clients (docs/JVM-OPTIONS.md). JAVA_OPTS -XX:+AOTReplayTraining brings them back.
       [[ $role == proxy ]] || flags+=(-XX:+UnlockDiagnosticVMOptions -XX:-AOTReplayTraining)
     elif [[ -r $cds_archive ]]; then flags+=("-XX:SharedArchiveFile=$cds_archive"); fi ;;
esac
# exec: the JVM takes this PID, so SIGTERM from a supervisor or a test reaches it directly.
if [[ -n $main ]]; then
  # shellcheck disable=SC2086
  exec "$java" "${flags[@]}" "${defaults[@]}" ${JAVA_OPTS:-} -cp "$jar" "$main" "$@"
fi
# shellcheck disable=SC2086
exec "$java" "${flags[@]}" "${defaults[@]}" ${JAVA_OPTS:-} -jar "$jar" "$@"
