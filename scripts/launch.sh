#!/usr/bin/env bash
# Shared by scripts/proxy, scripts/app, scripts/http-example and scripts/tls-example: finds the role's jar and runs it
# with the JVM flags the project needs. Not meant to be run directly.
#   HANDOFF_JAVA   java binary (default: $JAVA_HOME/bin/java, else java on PATH)
#   JAVA_OPTS      extra JVM options, e.g. -Xmx256m
set -euo pipefail
role=$1; shift
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
# A role's jar is handoff-ROLE.jar in module ROLE, except for the example programs (examples/).
module=$role name=handoff-$role main=""
case $role in
  http-example) module=examples name=handoff-examples ;;
  tls-example) module=examples name=handoff-examples main=dev.handoff.examples.tls.TlsEchoApp ;;
esac
jar=""
for candidate in "$here/../lib/$name.jar" "$here/../$module/target/$name.jar"; do
  if [[ -f $candidate ]]; then jar=$candidate; break; fi
done
if [[ -z $jar ]]; then
  echo "$role: $name.jar not found; build it first: mvn -DskipTests package" >&2
  exit 1
fi
java=${HANDOFF_JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/java}}
java=${java:-java}
# sun.nio.ch: the descriptor of a JDK socket channel (see JdkNioInternals); opened too, so that a
# proxy taking over (proxy --take-over) can wrap the listening socket it is passed in a JDK channel.
# Native access: junixsocket and Netty's epoll transport load JNI libraries, which Java 22+ warns
# about unless allowed.
flags=(--add-exports=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  --enable-native-access=ALL-UNNAMED)
major=$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
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
# exec: the JVM takes this PID, so SIGTERM from a supervisor or a test reaches it directly.
# shellcheck disable=SC2086
if [[ -n $main ]]; then
  # shellcheck disable=SC2086
  exec "$java" "${flags[@]}" ${JAVA_OPTS:-} -cp "$jar" "$main" "$@"
fi
# shellcheck disable=SC2086
exec "$java" "${flags[@]}" ${JAVA_OPTS:-} -jar "$jar" "$@"
