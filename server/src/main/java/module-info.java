/**
 * The receiving side of handoff as a library: the Netty transport ({@code HandoffServerChannel}),
 * the bootstrap over it and the blocking acceptor, all in {@code dev.handoff.server}, the one
 * package exported. Micrometer is optional ({@code requires static}).
 *
 * <p>On the module path the JVM needs, besides what {@code dev.handoff.common} needs, {@code
 * --add-opens io.netty.transport.classes.epoll/io.netty.channel.epoll=dev.handoff.server}: a
 * handed-off connection's channel is built with the constructor Netty's own accept path uses.
 */
module dev.handoff.server {
  requires transitive dev.handoff.common;
  requires transitive io.netty.transport;
  requires transitive io.netty.transport.classes.epoll;
  requires transitive io.netty.transport.unix.common;
  requires transitive io.netty.buffer;
  requires transitive io.netty.common;
  requires org.slf4j;
  requires static micrometer.core;

  exports dev.handoff.server;
}
