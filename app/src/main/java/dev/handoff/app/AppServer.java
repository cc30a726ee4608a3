package dev.handoff.app;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Errors;
import dev.handoff.app.ConnectionDetacher.Detached;
import dev.handoff.common.HandoffChannel;
import dev.handoff.common.HandoffLink;
import dev.handoff.common.MetricsEndpoint;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import io.netty.channel.epoll.EpollSocketChannel;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Wires the app: accepts proxy links on the {@link UnixListener}, one {@link LinkReader} thread
 * per link, all feeding one {@link EchoEngine}.
 */
final class AppServer {
  private static final Logger log = LoggerFactory.getLogger(AppServer.class);

  private final AppConfig config;
  private final EchoEngine engine;
  private final Map<HandoffLink, Thread> links = new ConcurrentHashMap<>();
  private final AtomicInteger linkSeq = new AtomicInteger();
  private final PrometheusMeterRegistry registry = MetricsEndpoint.registry();
  private final AppStats stats = new AppStats(registry);
  private MetricsEndpoint metrics;
  private UnixListener listener;
  private Thread acceptor;
  private volatile boolean stopping;
  /** A successor is taking over from this app. */
  private final AtomicBoolean handingOver = new AtomicBoolean();
  /** This app is still receiving the connections of the app it took over from. */
  private volatile boolean receivingTakeOver;
  private static final String PREDECESSOR = "the previous app";
  private final Runnable requestShutdown;

  /**
   * @param requestShutdown called if the listening socket dies while running, so that the process
   *     exits rather than live on unreachable
   */
  AppServer(AppConfig config, Runnable requestShutdown) {
    this.config = config;
    this.requestShutdown = requestShutdown;
    this.engine = new EchoEngine(config.ioThreads(), config.highWaterMark(), stats.bytesEchoed);
    Gauge.builder("handoff.app.connections.live", engine, EchoEngine::liveConnections)
        .description("client connections served now").register(registry);
    Gauge.builder("handoff.app.connections.max", config, AppConfig::maxConnections)
        .description("--max-connections: beyond it handoffs are answered RETRY")
        .register(registry);
    Gauge.builder("handoff.app.links.up", links, Map::size)
        .description("proxy links served now").register(registry);
  }

  /** Binds the socket and starts accepting links. */
  void start() throws IOException {
    start(null);
  }

  /**
   * Binds the socket and starts accepting links.
   *
   * @param predecessor when taking over, the link to the app that ran before, which has freed the
   *     socket path and will send its connections on this link
   */
  void start(HandoffLink predecessor) throws IOException {
    try {
      listener = UnixListener.bind(config.socket(), config.socketMode(), config.maxLinks());
    } catch (IOException e) {
      engine.close();
      if (predecessor != null) {
        predecessor.close();
      }
      throw e;
    }
    if (predecessor != null) {
      receivingTakeOver = true;
      try {
        // Bound: the previous app may now move its connections here (docs/PROTOCOL.md).
        predecessor.sendAck(new Acknowledgement(0, Acknowledgement.Status.ADOPTED));
        startReader(predecessor, PREDECESSOR);
      } catch (IOException e) {
        receivingTakeOver = false;
        log.warn("the previous app went away before moving its connections ({}); it keeps"
            + " whatever it serves", Errors.describe(e));
        closeQuietly(predecessor);
      }
    }
    log.info("listening on {} for proxy links (at most {} connections)", config.socket(),
        config.maxConnections());
    if (config.metrics() != null) {
      try {
        metrics = MetricsEndpoint.start(config.metrics(), registry);
      } catch (IOException e) {
        listener.close();
        engine.close();
        throw e;
      }
    }
    if (config.directPort() > 0) {
      try {
        engine.listenDirect(config.directPort());
      } catch (IOException e) {
        listener.close();
        engine.close();
        throw e;
      }
    }
    acceptor = new Thread(this::acceptLinks, "link-acceptor");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /**
   * Stops taking handoffs (removing the socket file), lets connections finish for up to the drain
   * timeout, then closes what is left.
   */
  void stop() throws InterruptedException {
    log.info("shutting down: no longer taking handoffs; {} connections open",
        engine.liveConnections());
    stopTakingHandoffs(null);
    for (HandoffLink link : links.keySet()) {
      closeQuietly(link);
    }
    int left = engine.awaitIdle(config.drainTimeout());
    if (left > 0) {
      log.info("drain timeout reached; closing {} connections", left);
    }
    engine.close();
    if (metrics != null) {
      metrics.close();
    }
    log.info("stopped: {}", summary());
  }

  /**
   * Stops accepting links and removes the socket file (if it is still this app's); then lets each
   * link's reader adopt and answer what its proxy already sent, until the proxy, whose sends now
   * fail, closes the link. Safe to call again.
   *
   * @param except a link to leave alone (the successor's, during a take-over)
   */
  synchronized void stopTakingHandoffs(HandoffLink except) throws InterruptedException {
    if (!stopping) {
      stopping = true;
      try {
        listener.close();
      } catch (IOException e) {
        log.warn("closing {}: {}", config.socket(), e.getMessage());
      }
      acceptor.join();
      engine.stopAccepting();
    }
    for (Map.Entry<HandoffLink, Thread> link : links.entrySet()) {
      if (link.getKey() == except) {
        continue;
      }
      try {
        link.getKey().shutdownInput();
        link.getKey().sendAck(new Acknowledgement(0, Acknowledgement.Status.CLOSING));
      } catch (IOException e) {
        closeQuietly(link.getKey());
      }
    }
    for (Map.Entry<HandoffLink, Thread> link : links.entrySet()) {
      if (link.getKey() != except) {
        link.getValue().join(TimeUnit.SECONDS.toMillis(5));
      }
    }
  }

  /** One line on the state of things, for SIGUSR1 and the shutdown log. */
  String summary() {
    return "adopted=" + stats.adopted.sum() + " migrated-in=" + stats.migratedIn.sum()
        + " refused=" + stats.refused.sum()
        + " direct=" + engine.directAccepted() + " live=" + engine.liveConnections()
        + " links=" + links.size() + " bytes-echoed=" + stats.bytesEchoed.sum()
        + "; handoff latency, accept to adopted: " + stats.latency.summary();
  }

  private void acceptLinks() {
    while (true) {
      AFUNIXSocketChannel accepted;
      try {
        accepted = listener.accept();
      } catch (IOException e) {
        if (stopping) {
          return;
        }
        if (e instanceof ClosedChannelException) {
          log.error("the listening socket {} was closed; no more proxies can link", config.socket());
          requestShutdown.run();
          return;
        }
        log.warn("accepting a link on {}: {}", config.socket(), e.getMessage());
        sleepQuietly(100);
        continue;
      }
      startReader(accepted);
    }
  }

  private void startReader(AFUNIXSocketChannel accepted) {
    int n = linkSeq.incrementAndGet();
    AFUNIXSocketCredentials creds;
    try {
      creds = accepted.getPeerCredentials();
      if (creds == null) {
        throw new IOException("the kernel gave none");
      }
    } catch (IOException | RuntimeException e) {
      log.warn("refusing link proxy#{}: no peer credentials ({})", n, Errors.describe(e));
      closeQuietly(accepted);
      return;
    }
    String peer = "proxy#" + n + " (pid " + creds.getPid() + ", uid " + creds.getUid() + ")";
    if (!config.allowedUids().contains((int) creds.getUid())) {
      log.warn("refusing link from {}: uid {} is not allowed {}", peer, creds.getUid(),
          config.allowedUids());
      closeQuietly(accepted);
      return;
    }
    if (links.size() >= config.maxLinks()) {
      log.warn("refusing link from {}: already {} links", peer, links.size());
      closeQuietly(accepted);
      return;
    }
    HandoffChannel link;
    try {
      link = HandoffChannel.accepted(accepted, peer, config.acceptPlain());
    } catch (IOException e) {
      log.warn("refusing link from {}: {}", peer, Errors.describe(e));
      return;
    }
    startReader(link, peer);
  }

  private void startReader(HandoffLink link, String peer) {
    log.info("link from {} up", peer);
    Runnable onClose = () -> {
      links.remove(link);
      if (peer.equals(PREDECESSOR)) {
        receivingTakeOver = false;
      }
    };
    Thread reader = new Thread(new LinkReader(link, engine, stats, config.maxConnections(),
        this::handOver, onClose), "link-" + linkSeq.get());
    reader.setDaemon(true);
    links.put(link, reader);
    reader.start();
  }

  /**
   * A successor asked, on {@code link}, to take over: hand everything to it, then stop. One
   * take-over at a time, and none while this app is itself still receiving one: a second
   * successor is answered REJECTED, so two started together never chain (old, A, then B).
   */
  private void handOver(HandoffLink link) {
    if (receivingTakeOver || !handingOver.compareAndSet(false, true)) {
      log.warn("{} asks to take over, but {}; refused", link.peer(), receivingTakeOver
          ? "this app is still taking over from the previous one" : "a take-over is under way");
      try {
        link.sendAck(new Acknowledgement(0, Acknowledgement.Status.REJECTED));
      } catch (IOException e) {
        // it went away: nothing to tell it
      }
      closeQuietly(link);
      return;
    }
    Thread t = new Thread(new Handover(link, handoverSite(), requestShutdown), "handover");
    t.setDaemon(true);
    t.start();
  }

  /** This app as a hand-over sees it. */
  private HandoverSite handoverSite() {
    return new HandoverSite() {
      @Override
      public void stopTakingHandoffs(HandoffLink except) throws InterruptedException {
        AppServer.this.stopTakingHandoffs(except);
      }

      @Override
      public boolean resumeTakingHandoffs() {
        return AppServer.this.resumeTakingHandoffs();
      }

      @Override
      public List<CompletableFuture<Detached>> detachAll() {
        List<CompletableFuture<Detached>> detaching = new ArrayList<>();
        for (EpollSocketChannel channel : engine.connections()) {
          detaching.add(ConnectionDetacher.detach(channel));
        }
        return detaching;
      }

      @Override
      public void resume(Detached connection) {
        engine.resume(connection.channel());
      }

      @Override
      public void release(Detached connection) {
        connection.channel().close(); // close(2) on this copy; the successor's stays connected
      }
    };
  }

  /**
   * After a take-over that did not complete: binds the socket path again (if the successor
   * never bound it, or died and left it stale) and takes handoffs as before; proxies re-link by
   * themselves.
   *
   * @return whether this app is taking handoffs again; false if another process now accepts on
   *     the path (a successor that is alive keeps it)
   */
  synchronized boolean resumeTakingHandoffs() {
    try {
      listener = UnixListener.bind(config.socket(), config.socketMode(), config.maxLinks());
    } catch (IOException e) {
      log.error("cannot bind {} again: {}", config.socket(), Errors.describe(e));
      handingOver.set(false);
      return false;
    }
    stopping = false;
    if (config.directPort() > 0) {
      try {
        engine.listenDirect(config.directPort());
      } catch (IOException e) {
        log.warn("direct TCP port {} not reopened: {}", config.directPort(), Errors.describe(e));
      }
    }
    acceptor = new Thread(this::acceptLinks, "link-acceptor");
    acceptor.setDaemon(true);
    acceptor.start();
    handingOver.set(false);
    log.info("serving everything here again: listening on {} for proxy links ({} connections"
        + " open)", config.socket(), engine.liveConnections());
    return true;
  }

  private static void closeQuietly(AFUNIXSocketChannel channel) {
    try {
      channel.close();
    } catch (IOException e) {
      // gone either way
    }
  }

  private static void closeQuietly(HandoffLink link) {
    try {
      link.close();
    } catch (IOException e) {
      // gone either way
    }
  }

  private static void sleepQuietly(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
