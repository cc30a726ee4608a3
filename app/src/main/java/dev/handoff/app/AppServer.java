package dev.handoff.app;

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
  private final Runnable onListenerLost;

  /**
   * @param onListenerLost called if the listening socket dies while running, so that the process
   *     exits rather than live on unreachable
   */
  AppServer(AppConfig config, Runnable onListenerLost) {
    this.config = config;
    this.onListenerLost = onListenerLost;
    this.engine = new EchoEngine(config.ioThreads(), config.highWaterMark(), stats.bytesEchoed);
    Gauge.builder("handoff.app.connections.live", engine, EchoEngine::liveConnections)
        .register(registry);
    Gauge.builder("handoff.app.links.up", links, Map::size).register(registry);
  }

  /** Binds the socket and starts accepting links. */
  void start() throws IOException {
    try {
      listener = UnixListener.bind(config.socket(), config.socketMode(), config.maxLinks());
    } catch (IOException e) {
      engine.close();
      throw e;
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
    stopping = true;
    try {
      listener.close();
    } catch (IOException e) {
      log.warn("closing {}: {}", config.socket(), e.getMessage());
    }
    acceptor.join();
    engine.stopAccepting();
    // Proxies' sends fail from now on, so they route elsewhere; what they already sent is still
    // read, adopted and answered, then each reader sees the end of its link and closes it.
    for (HandoffChannel link : links.keySet()) {
      try {
        link.shutdownInput();
      } catch (IOException e) {
        closeQuietly(link);
      }
    }
    for (Thread reader : links.values()) {
      reader.join(TimeUnit.SECONDS.toMillis(5));
    }
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

  /** One line on the state of things, for SIGUSR1 and the shutdown log. */
  String summary() {
    return "adopted=" + stats.adopted.sum() + " refused=" + stats.refused.sum()
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
          onListenerLost.run();
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
    HandoffChannel link = HandoffChannel.accepted(accepted, peer);
    log.info("link from {} up", peer);
    Thread reader = new Thread(new LinkReader(link, engine, stats, config.maxConnections(),
        () -> links.remove(link)), "link-" + n);
    reader.setDaemon(true);
    links.put(link, reader);
    reader.start();
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
