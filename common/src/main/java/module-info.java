/**
 * The handoff wire format and the descriptor link, shared by the proxy and the receiving library
 * ({@code dev.handoff.common}). The JDK and junixsocket internals they reach
 * ({@code dev.handoff.common.internal}) are exported to the library's own module only.
 *
 * <p>On the module path the JVM needs {@code --add-exports java.base/sun.nio.ch=dev.handoff.common}
 * and {@code --add-opens org.newsclub.net.unix/org.newsclub.net.unix=dev.handoff.common}; see
 * docs/LIBRARY.md.
 */
module dev.handoff.common {
  requires transitive org.newsclub.net.unix;
  requires org.slf4j;

  exports dev.handoff.common;
  exports dev.handoff.common.internal to dev.handoff.server;
}
