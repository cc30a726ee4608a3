package dev.handoff.proxy;

import dev.handoff.proxy.accept.SocketActivation;
import io.micrometer.core.instrument.Gauge;
import dev.handoff.common.Descriptors;
import dev.handoff.common.internal.JdkNioInternals;
import dev.handoff.proxy.accept.AcceptedConnection;
import dev.handoff.proxy.accept.ProxyHeaderReader;
import dev.handoff.proxy.accept.ProxyStats;
import dev.handoff.proxy.accept.TcpAcceptor;
import dev.handoff.proxy.link.AppLink;
import dev.handoff.proxy.link.PlainSender;
import dev.handoff.proxy.link.RouteTarget;
import dev.handoff.proxy.route.PeekOptions;
import dev.handoff.proxy.route.PeekStage;
import dev.handoff.proxy.upgrade.Listener;
import dev.handoff.proxy.route.RouteSpec;
import java.io.FileDescriptor;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Wires the proxy: a {@link TcpAcceptor} thread fills a bounded queue; a {@link Dispatcher} thread
 * empties it into the {@link LinkSet}, one {@link AppLink} per app socket. With routes other than
 * the default ({@code --route}), each route is a {@link RouteTarget} with a queue, dispatcher and
 * links of its own, and a {@link PeekStage} between the acceptor and the routes picks each
 * connection's route from its first bytes; without, the acceptor hands to the one route directly,
 * as before routes existed.
 */
final class ProxyServer implements Listener {
  private static final Logger log = LoggerFactory.getLogger(ProxyServer.class);

  private final ProxyConfig config;
  /** Where this proxy's meters go: its own registry, or one listener's view of a shared one. */
  private final io.micrometer.core.instrument.MeterRegistry registry;
  private final ProxyStats stats;
  /** The default route's queue, or with a peek stage the stage's intake. */
  private final BlockingQueue<AcceptedConnection> queue;
  private final ScheduledExecutorService timer;
  /** The default route; the one the acceptor hands to when nothing is peeked. */
  private final RouteTarget direct;
  /** Every route, in the order of {@link dev.handoff.proxy.route.RouteTable#all()}. */
  private final List<RouteTarget> targets = new ArrayList<>();
  /** Null unless some route needs the first bytes. */
  private final PeekStage peek;
  private Thread peeker;
  private ServerSocketChannel server;
  private Thread acceptor;
  /** Read by the PROXY header reader's thread, which delivers through the current acceptor. */
  private volatile TcpAcceptor acceptorTask;
  /** With --proxy-protocol-from: looks at first bytes before the handoff; otherwise null. */
  private ProxyHeaderReader headerReader;
  private Thread headerThread;
  private Thread dispatcher;
  /**
   * While a proxy taking over accepts on the port: this proxy's own copy of the listening socket,
   * kept so that it can accept again if the new proxy goes away (see {@link #resumeAccepting}).
   * Guarded by {@code this}.
   */
  private FileDescriptor spare;
  private boolean stopped;
  /** {@code --protocol plain}: used instead of the dispatcher and the links. */
  private final PlainSender plain;

  /**
   * A listener whose meters go to {@code registry}; {@link ProxyCommand} serves them
   * ({@code --metrics}), one endpoint for every listener.
   */
  ProxyServer(ProxyConfig config, io.micrometer.core.instrument.MeterRegistry registry) {
    this.config = config;
    this.registry = registry;
    this.stats = new ProxyStats(registry);
    this.timer = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "timer"));
    for (RouteSpec spec : config.routes().all()) {
      targets.add(new RouteTarget(spec, config.links(), stats, timer));
    }
    RouteTarget fallback = config.routes().fallback() != null
        ? targets.get(config.routes().fallbackIndex()) : null;
    if (config.routes().needsPeek()) {
      try {
        this.peek = new PeekStage(config.routes(), targets, config.peek(), config.links().queueSize(),
            stats, registry);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException("cannot open a selector: " + e.getMessage(), e);
      }
      this.queue = peek.intake();
      this.direct = null;
    } else {
      this.peek = null;
      this.queue = fallback.queue;
      this.direct = fallback;
    }
    Gauge.builder("handoff.proxy.connections.queued", this, ProxyServer::queued)
        .description("accepted connections waiting to be sent").register(registry);
    Gauge.builder("handoff.proxy.links.up", this,
            p -> p.allLinks().stream().filter(a -> a.state() == AppLink.State.UP).count())
        .description("links to apps that take handoffs").register(registry);
    Gauge.builder("handoff.proxy.handoffs.in.flight", this,
            p -> p.allLinks().stream().mapToInt(AppLink::inFlight).sum())
        .description("sent, awaiting an answer").register(registry);
    this.plain = config.plainProtocol() ? new PlainSender(queue, stats, config.links(),
        config.defaultSockets()) : null;
  }

  private double queued() {
    double n = peek != null ? peek.size() : 0;
    for (RouteTarget t : targets) {
      n += t.waiting();
    }
    return n;
  }

  private List<AppLink> allLinks() {
    List<AppLink> all = new ArrayList<>();
    for (RouteTarget t : targets) {
      all.addAll(t.links());
    }
    return all;
  }

  /** The acceptor for the current listening socket: to the peek stage, or the default route. */
  private TcpAcceptor newAcceptor() {
    if (plain != null) {
      return new TcpAcceptor(server, queue, conn -> false, stats);
    }
    if (peek != null) {
      return new TcpAcceptor(server, queue, peek::offer, stats);
    }
    return new TcpAcceptor(server, queue, direct::trySendNow, stats);
  }

  /**
   * Starts the threads on the given listening socket, or on a socket of its own bound to the
   * configured address when {@code inherited} is null.
   */
  void start(ServerSocketChannel inherited) throws IOException {
    start(inherited, SocketActivation.SOURCE);
  }

  /**
   * As {@link #start(ServerSocketChannel)}; {@code source} says in the log where an inherited
   * listening socket came from.
   */
  void start(ServerSocketChannel inherited, String source) throws IOException {
    server = inherited != null ? inherited : bind();
    deferAccept(inherited != null);
    log.info("listening on {}{}, handing connections to {}{}", server.getLocalAddress(),
        inherited != null ? source : "", peek != null ? describeRoutes() : config.defaultSockets(),
        plain != null ? " (--protocol plain)" : "");
    if (config.proxyProtocol().on()) {
      try {
        headerReader = new ProxyHeaderReader(config.proxyProtocol().trusted(),
            config.proxyProtocol().timeout(), config.links().queueSize(),
            conn -> acceptorTask.deliver(conn), stats);
      } catch (IOException e) {
        server.close();
        throw e;
      }
      headerThread = daemon(headerReader, "proxy-protocol");
      headerThread.start();
      log.info("reading PROXY protocol headers from {}; refusing them from anyone else",
          config.proxyProtocol().trusted());
    }
    if (plain != null) {
      dispatcher = daemon(plain, "plain-sender");
      acceptorTask = newAcceptor().withHeaderReader(headerReader);
      acceptor = daemon(acceptorTask, "acceptor");
      dispatcher.start();
      acceptor.start();
      return;
    }
    for (RouteTarget t : targets) {
      t.start();
    }
    if (peek != null) {
      peeker = daemon(peek, "peeker");
      peeker.start();
    }
    // With a PROXY header reader, the peek stage sees the bytes after the header it consumed.
    acceptorTask = newAcceptor().withHeaderReader(headerReader);
    acceptor = daemon(acceptorTask, "acceptor");
    acceptor.start();
  }

  private String describeRoutes() {
    StringBuilder s = new StringBuilder();
    for (RouteSpec spec : config.routes().all()) {
      s.append(s.length() == 0 ? "" : ", ").append(spec.name()).append(" -> ")
          .append(spec.sockets());
    }
    if (config.routes().fallback() == null) {
      s.append(", no default route (unmatched connections are closed)");
    }
    return s.append(" (peeking at most ").append(config.peek().maxBytes()).append(" bytes for ")
        .append(config.peek().timeout().toMillis()).append(" ms)").toString();
  }

  /**
   * {@code TCP_DEFER_ACCEPT} on the listening socket when this listener peeks and it is wanted
   * ({@link PeekOptions#deferAccept}); an inherited socket (a proxy upgrade, systemd) is set
   * either way, since the option belongs to the socket and a predecessor may have set it. A JVM
   * that cannot set it only costs the wait on readiness, so that is logged, not fatal.
   */
  private void deferAccept(boolean inherited) {
    int seconds = peek != null && config.peek().deferAccept() ? PeekOptions.DEFER_ACCEPT_SECONDS : 0;
    if (seconds == 0 && !inherited) {
      return;
    }
    try {
      JdkNioInternals.setTcpDeferAccept(server, seconds);
      if (seconds > 0) {
        peek.acceptDeferred(seconds);
        log.info("accept deferred until a connection's first bytes arrive (TCP_DEFER_ACCEPT {} s)",
            seconds);
      }
    } catch (IOException | RuntimeException e) {
      log.warn("cannot set TCP_DEFER_ACCEPT on {} ({}); first bytes are awaited after the accept",
          config.listen().port(), e.getMessage());
    }
  }

  private ServerSocketChannel bind() throws IOException {
    InetSocketAddress address = address();
    // The family of the bind address, so that 0.0.0.0 means IPv4 only rather than dual-stack.
    ServerSocketChannel channel = ServerSocketChannel.open(config.listen().bind() instanceof Inet4Address
        ? StandardProtocolFamily.INET : StandardProtocolFamily.INET6);
    try {
      channel.setOption(StandardSocketOptions.SO_REUSEADDR, true);
      channel.bind(address, config.listen().backlog());
      return channel;
    } catch (IOException e) {
      channel.close();
      throw new IOException("listen on " + address + ": " + e.getMessage(), e);
    }
  }

  /**
   * Stops accepting and linking, sends what is queued on the links that are up and collects the
   * answers within the grace period, closes the rest, and closes the links; handoffs still
   * unanswered then are left to their apps (the proxy's copies closed, counted unacknowledged).
   * Connections the apps adopted are not touched.
   */
  void stop() throws InterruptedException {
    log.info("shutting down: no longer accepting; {} connections waiting for handoff",
        queue.size());
    synchronized (this) {
      stopped = true;
      Descriptors.close(spare);
      spare = null;
    }
    try {
      server.close();
    } catch (IOException e) {
      log.warn("closing the listening socket: {}", e.getMessage());
    }
    // Not interrupted: the acceptor may be sending a handoff, and an interrupt would close the link.
    acceptorTask.stop();
    if (headerReader != null) {
      // Closes the connections still waiting for their first bytes, and frees an acceptor
      // waiting for room in the reader.
      headerReader.stop();
    }
    acceptor.join();
    if (headerReader != null) {
      headerThread.join();
    }
    if (plain != null) {
      plain.drain(config.shutdownGrace());
      dispatcher.join();
      plain.close();
      log.info("stopped: {}", stats);
      return;
    }
    if (peek != null) {
      // The connections being peeked at get their routes (at most their own --peek-timeout, at
      // most the grace period), then the routes hand them off like the rest.
      log.info("{} connections still being peeked at", peek.size());
      peek.drain(config.shutdownGrace());
      peeker.join();
    }
    for (RouteTarget t : targets) {
      t.drain(config.shutdownGrace());
    }
    // No new links from here on (after drain, so that what no link can take now counts as
    // dropped at shutdown): a link made during the shutdown could only be sent again what an
    // app whose link the shutdown closed may own.
    for (RouteTarget t : targets) {
      t.stopLinking();
    }
    for (RouteTarget t : targets) {
      t.join();
    }
    for (RouteTarget t : targets) {
      t.closeLinks();
    }
    for (Runnable pending : timer.shutdownNow()) {
      pending.run(); // closes held copies
    }
    timer.awaitTermination(1, TimeUnit.SECONDS);
    awaitReaders();
    for (RouteTarget t : targets) {
      t.closeLeftovers();
    }
    log.info("stopped: {}{}", stats, peek != null ? " " + peek.peekStats() : "");
  }

  /**
   * The listening socket's descriptor, to pass on to a proxy taking over; it stays this proxy's.
   */
  @Override
  public synchronized FileDescriptor listenerDescriptor() throws IOException {
    if (stopped || !server.isOpen()) {
      throw new IOException("this proxy no longer accepts");
    }
    return JdkNioInternals.descriptorOf(server);
  }

  /** The configured address to accept on (a received socket's may differ; see --take-over). */
  @Override
  public InetSocketAddress address() {
    return config.listen().address();
  }

  /** The port accepted on. */
  @Override
  public int listenerPort() {
    try {
      return ((InetSocketAddress) server.getLocalAddress()).getPort();
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  /**
   * Stops accepting because a proxy taking over accepts on the same socket now. This proxy keeps
   * a duplicate of the listening descriptor, so that it can {@link #resumeAccepting} if the new
   * proxy goes away; closing its channel is close(2), never shutdown(2), so the socket keeps
   * listening for the other process's copy. What was accepted is still handed off.
   */
  @Override
  public synchronized void stopAccepting() throws IOException, InterruptedException {
    if (stopped || spare != null) {
      return;
    }
    FileDescriptor copy = org.newsclub.net.unix.FileDescriptorCast.duplicating(
        JdkNioInternals.descriptorOf(server)).getFileDescriptor();
    spare = copy;
    acceptorTask.finish();
    server.close(); // wakes the acceptor blocked in accept(2)
    acceptor.join();
    log.info("stopped accepting: the proxy taking over accepts on the port; {} connections still"
        + " held here (queued or awaiting an app's answer)", stats.held.get());
  }

  /** Accepts again on the kept duplicate, after the proxy taking over went away. */
  @Override
  public synchronized void resumeAccepting() throws IOException {
    if (stopped || spare == null) {
      return;
    }
    ServerSocketChannel channel;
    try {
      channel = JdkNioInternals.serverSocketChannel(spare);
    } catch (IOException | RuntimeException e) {
      Descriptors.close(spare);
      spare = null;
      throw e;
    }
    spare = null; // the channel owns it now
    server = channel;
    long next = acceptorTask.nextId();
    TcpAcceptor task = newAcceptor();
    task.withHeaderReader(headerReader).startingAt(next);
    acceptorTask = task;
    acceptor = daemon(acceptorTask, "acceptor");
    acceptor.start();
    log.info("accepting again on {}", server.getLocalAddress());
  }

  /** Whether this proxy holds no accepted connection any more: all handed off or closed. */
  @Override
  public boolean settled() {
    return stats.held.get() == 0;
  }

  /** One line on the state of things, for SIGUSR1. */
  String status() {
    StringBuilder line = new StringBuilder("status: ").append(stats)
        .append(" queued=").append(queue.size()).append(" links=[");
    if (plain != null) {
      return line.append(plain.describeLinks()).append(']').toString();
    }
    List<AppLink> all = allLinks();
    for (AppLink link : all) {
      line.append(link.socket()).append(' ').append(link.state()).append(" in-flight=")
          .append(link.inFlight()).append(link == all.get(all.size() - 1) ? "" : ", ");
    }
    if (peek != null) {
      line.append("] ").append(peek.peekStats()).append(" routed=[");
      for (RouteTarget t : targets) {
        line.append(t.name()).append('=').append(t.routed())
            .append(t == targets.get(targets.size() - 1) ? "" : ", ");
      }
    }
    return line.append("] handoff latency p50/p99 ")
        .append(percentileMillis(0.5)).append('/').append(percentileMillis(0.99)).append(" ms")
        .toString();
  }

  private String percentileMillis(double q) {
    for (var v : stats.latency.takeSnapshot().percentileValues()) {
      if (v.percentile() == q) {
        return String.format("%.3f", v.value(TimeUnit.MILLISECONDS));
      }
    }
    return String.format("%.3f", stats.latency.mean(TimeUnit.MILLISECONDS));
  }

  /**
   * Waits until every link's reader has settled what was unanswered on it, so that the counters
   * logged next are final; at most 2 s.
   */
  private void awaitReaders() throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    while (!allLinks().stream().allMatch(AppLink::settled)) {
      if (System.nanoTime() - deadline > 0) {
        log.warn("links still settling after 2 s, so the counters below may miss some: {}",
            allLinks().stream().filter(l -> !l.settled()).map(l -> l.socket() + " " + l.state())
                .toList());
        return;
      }
      Thread.sleep(5);
    }
  }


  private static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }
}
