package dev.handoff.app;

import dev.handoff.cli.MetricsEndpoint;
import dev.handoff.server.Handoff;
import dev.handoff.server.HandoffServer;
import dev.handoff.server.HandoffServerBootstrap;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The echo service, wired on the public library API: one set of epoll event loops serves both the
 * connections handed off by proxies ({@link HandoffServer}) and, with {@code --direct-port}, TCP
 * connections accepted here (Netty's own {@code ServerBootstrap}), with the same pipeline.
 */
final class EchoApp {
  private static final Logger log = LoggerFactory.getLogger(EchoApp.class);

  private final AppConfig config;
  private final EventLoopGroup group;
  private final LongAdder bytesEchoed = new LongAdder();
  /**
   * The meters served with {@code --metrics}; null without it, so that an app (above all a
   * successor taking over) does not build a Prometheus registry nobody scrapes: that took ~160 ms
   * of its start. The shutdown line counts on its own adders, not on meters.
   */
  private final PrometheusMeterRegistry registry;
  /** Connections accepted on the direct port, and its listener. */
  private final ChannelGroup direct =
      new DefaultChannelGroup("direct", GlobalEventExecutor.INSTANCE);
  private final LongAdder directAccepted = new LongAdder();
  private HandoffServer server;
  private Channel directListener;
  private MetricsEndpoint metrics;

  EchoApp(AppConfig config) {
    this.config = config;
    this.registry = config.metrics() != null ? MetricsEndpoint.registry() : null;
    this.group = new MultiThreadIoEventLoopGroup(config.ioThreads(),
        new DefaultThreadFactory("echo", true), EpollIoHandler.newFactory());
    if (registry != null) {
      FunctionCounter.builder("handoff.app.echoed", bytesEchoed, LongAdder::sum)
          .baseUnit("bytes").description("bytes echoed (every byte read is written back)")
          .register(registry);
    }
  }

  /** Each connection's pipeline: one echo handler, shared by every connection. */
  private EchoHandler pipeline() {
    return new EchoHandler(bytesEchoed, this::opened);
  }

  /** A connection the echo handler joined: a direct one is tracked here, a handoff logged. */
  private void opened(Channel ch) {
    Handoff handoff = Handoff.of(ch);
    if (handoff == null) {
      directAccepted.increment();
      direct.add(ch);
    } else if (handoff.proxiedBy() != null && log.isDebugEnabled()) {
      // The channel's remote address is the client the load balancer spoke for.
      log.debug("c{}: client {} via load balancer {}{}{}", handoff.connectionId(),
          ch.remoteAddress(), handoff.proxiedBy(),
          handoff.authority() == null ? "" : " authority " + handoff.authority(),
          handoff.uniqueId() == null ? "" : " unique-id "
              + new String(handoff.uniqueId(), java.nio.charset.StandardCharsets.ISO_8859_1));
    }
  }

  /**
   * Starts taking handoffs (taking over from the app at the socket path if {@code takeOver}), and
   * the direct port and metrics if configured. On failure everything started is stopped again.
   *
   * @throws dev.handoff.server.SocketInUseException if another app listens on the socket path
   */
  void start(boolean takeOver) throws IOException {
    WriteBufferWaterMark waterMark =
        new WriteBufferWaterMark(config.highWaterMark() / 2, config.highWaterMark());
    EchoHandler pipeline = pipeline();
    HandoffServerBootstrap bootstrap = new HandoffServerBootstrap()
        .group(group)
        .childHandler(pipeline)
        .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
        // No TCP_NODELAY option: Netty's epoll channel sets it as it is made (on Linux), and the
        // option would only set it again, one setsockopt(2) more per connection.
        .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark)
        .stateless(true) // an echo holds nothing but its unsent bytes
        .socketMode(config.socketMode())
        .allowedUids(config.allowedUids())
        .maxLinks(config.maxLinks())
        .maxConnections(config.maxConnections())
        .acceptPlain(config.acceptPlain())
        .handOverTimeout(config.takeOverTimeout());
    if (config.readyCommand() != null) {
      bootstrap.readiness(new ReadyCommand(config.readyCommand()));
    }
    if (registry != null) {
      bootstrap.meterRegistry(registry);
    }
    try {
      server = takeOver ? bootstrap.takeOver(config.socket()) : bootstrap.bind(config.socket());
      if (registry != null) {
        metrics = MetricsEndpoint.start(config.metrics(), registry);
      }
      if (config.directPort() > 0) {
        listenDirect(pipeline, waterMark);
      }
    } catch (IOException | RuntimeException e) {
      close();
      throw e;
    }
  }

  private void listenDirect(EchoHandler pipeline, WriteBufferWaterMark waterMark)
      throws IOException {
    ChannelFuture bound = new ServerBootstrap()
        .group(group)
        .channel(EpollServerSocketChannel.class)
        .option(ChannelOption.SO_BACKLOG, 1024)
        .option(ChannelOption.SO_REUSEADDR, true)
        .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
        .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark)
        .childHandler(pipeline)
        .bind(new InetSocketAddress(config.directPort())).awaitUninterruptibly();
    if (!bound.isSuccess()) {
      throw new IOException("listen on TCP port " + config.directPort() + ": "
          + bound.cause().getMessage(), bound.cause());
    }
    directListener = bound.channel();
    log.info("also accepting TCP directly on {}", directListener.localAddress());
  }

  /** Completes when a successor has taken over, or the socket was closed under this app. */
  java.util.concurrent.CompletionStage<Void> handedOver() {
    return server.handedOver();
  }

  /**
   * Stops taking handoffs and direct connections, lets open connections finish for up to the
   * drain timeout, then closes what is left.
   */
  void stop() throws InterruptedException {
    log.info("shutting down: no longer taking handoffs; {} connections open", liveConnections());
    server.stopTakingHandoffs();
    if (directListener != null) {
      directListener.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
    long deadline = System.nanoTime() + config.drainTimeout().toNanos();
    while (liveConnections() > 0 && System.nanoTime() - deadline < 0) {
      TimeUnit.MILLISECONDS.sleep(20);
    }
    int left = liveConnections();
    if (left > 0) {
      log.info("drain timeout reached; closing {} connections", left);
    }
    close();
    log.info("stopped: {}", summary());
  }

  private int liveConnections() {
    return server.liveConnections() + direct.size();
  }

  private void close() {
    if (server != null) {
      server.close();
    }
    direct.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    if (metrics != null) {
      metrics.close();
    }
  }

  /** One line on the state of things, for SIGUSR1 and the shutdown log. */
  String summary() {
    return server.summary() + " direct=" + directAccepted.sum() + " bytes-echoed="
        + bytesEchoed.sum();
  }
}
