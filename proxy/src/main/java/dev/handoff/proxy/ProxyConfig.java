package dev.handoff.proxy;

import dev.handoff.proxy.route.PeekOptions;
import dev.handoff.proxy.route.RouteSpec;
import dev.handoff.proxy.route.RouteTable;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * Everything the proxy needs to run, as validated by {@link ProxyCommand}. {@code sockets} are the
 * default route's; {@code routes} holds every route, the default included.
 */
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
    Duration proxyProtocolTimeout,
    /** The routes; only a default route (no peeking) unless {@code --route} gave others. */
    RouteTable routes,
    /** How first bytes are peeked at, when some route needs them. */
    PeekOptions peek,
    /** {@code --sticky}: each route sends a client address to the same app while it is linked. */
    boolean sticky) {

  /**
   * A configuration without the PROXY protocol and with one route, the default, to
   * {@code sockets}: no peeking (for tests and callers that predate both).
   */
  ProxyConfig(InetAddress bind, int port, int backlog, List<Path> sockets, int queueSize,
      Duration queueWait, Duration retryMin, Duration retryMax, int window, Duration ackTimeout,
      Set<Integer> appUids, Duration holdCopy, Duration shutdownGrace, InetSocketAddress metrics,
      boolean plainProtocol) {
    this(bind, port, backlog, sockets, queueSize, queueWait, retryMin, retryMax, window,
        ackTimeout, appUids, holdCopy, shutdownGrace, metrics, plainProtocol, List.of(),
        Duration.ofSeconds(3), new RouteTable(List.of(), new RouteSpec("default",
            dev.handoff.proxy.route.Rule.DEFAULT, sockets)), PeekOptions.DEFAULTS, false);
  }
}
