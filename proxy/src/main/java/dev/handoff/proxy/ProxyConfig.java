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
    /** The routes; only a default route (no peeking) unless {@code --route} gave others. */
    RouteTable routes,
    /** How first bytes are peeked at, when some route needs them. */
    PeekOptions peek) {

  /** A proxy with one route, the default, to {@code sockets}: no peeking. */
  ProxyConfig(InetAddress bind, int port, int backlog, List<Path> sockets, int queueSize,
      Duration queueWait, Duration retryMin, Duration retryMax, int window, Duration ackTimeout,
      Set<Integer> appUids, Duration holdCopy, Duration shutdownGrace, InetSocketAddress metrics,
      boolean plainProtocol) {
    this(bind, port, backlog, sockets, queueSize, queueWait, retryMin, retryMax, window,
        ackTimeout, appUids, holdCopy, shutdownGrace, metrics, plainProtocol,
        new RouteTable(List.of(), new RouteSpec("default",
            dev.handoff.proxy.route.Rule.DEFAULT, sockets)), PeekOptions.DEFAULTS);
  }
}
