package dev.handoff.app;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.HandoffChannel;
import dev.handoff.common.MetricsEndpoint;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.ConcurrentHashMap;
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
  private final Map<HandoffChannel, Thread> links = new ConcurrentHashMap<>();
  private final AtomicInteger linkSeq = new AtomicInteger();
  private final PrometheusMeterRegistry registry = MetricsEndpoint.registry();
  private final AppStats stats = new AppStats(registry);
  private MetricsEndpoint metrics;
  private UnixListener listener;
  private Thread acceptor;
  private volatile boolean stopping;
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
  void start(HandoffChannel predecessor) throws IOException {
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
      startReader(predecessor, "the previous app");
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
    for (HandoffChannel link : links.keySet()) {
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
  synchronized void stopTakingHandoffs(HandoffChannel except) throws InterruptedException {
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
    for (Map.Entry<HandoffChannel, Thread> link : links.entrySet()) {
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
    for (Map.Entry<HandoffChannel, Thread> link : links.entrySet()) {
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
    } catch (IOException | RuntimeException e) {
      log.warn("refusing link proxy#{}: no peer credentials ({})", n, e.getMessage());
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
    startReader(HandoffChannel.accepted(accepted, peer), peer);
  }

  private void startReader(HandoffChannel link, String peer) {
    log.info("link from {} up", peer);
    Thread reader = new Thread(new LinkReader(link, engine, stats, config.maxConnections(),
        this::handOver, () -> links.remove(link)), "link-" + linkSeq.get());
    reader.setDaemon(true);
    links.put(link, reader);
    reader.start();
  }

  /** A successor asked, on {@code link}, to take over: hand everything to it, then stop. */
  private void handOver(HandoffChannel link) {
    Thread t = new Thread(new Handover(link, this, engine, requestShutdown), "handover");
    t.setDaemon(true);
    t.start();
  }

  private static void closeQuietly(AFUNIXSocketChannel channel) {
    try {
      channel.close();
    } catch (IOException e) {
      // gone either way
    }
  }

  private static void closeQuietly(HandoffChannel link) {
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
