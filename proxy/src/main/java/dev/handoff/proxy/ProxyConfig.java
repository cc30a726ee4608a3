package dev.handoff.proxy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/** Everything the proxy needs to run, as validated by {@link ProxyCommand}. */
record ProxyConfig(
    InetAddress bind,
    int port,
    int backlog,
    List<Path> sockets,
    int queueSize,
    Duration queueWait,
    Duration retryMin,
    Duration retryMax,
    int window,
    Duration ackTimeout,
    Set<Integer> appUids,
    Duration holdCopy,
    Duration shutdownGrace,
    InetSocketAddress metrics,
    /** {@code --protocol plain}: a {@link PlainSender} instead of the acknowledged links. */
    boolean plainProtocol,
    /** {@code --proxy-protocol-from}: load balancers whose PROXY header is read; empty: off. */
    List<Cidr> proxyProtocolFrom,
    Duration proxyProtocolTimeout) {

  /** A configuration without the PROXY protocol (for tests and callers that predate it). */
  ProxyConfig(InetAddress bind, int port, int backlog, List<Path> sockets, int queueSize,
      Duration queueWait, Duration retryMin, Duration retryMax, int window, Duration ackTimeout,
      Set<Integer> appUids, Duration holdCopy, Duration shutdownGrace, InetSocketAddress metrics,
      boolean plainProtocol) {
    this(bind, port, backlog, sockets, queueSize, queueWait, retryMin, retryMax, window,
        ackTimeout, appUids, holdCopy, shutdownGrace, metrics, plainProtocol, List.of(),
        Duration.ofSeconds(3));
  }
}
