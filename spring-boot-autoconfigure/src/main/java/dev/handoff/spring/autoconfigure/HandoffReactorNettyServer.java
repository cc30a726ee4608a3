package dev.handoff.spring.autoconfigure;

import dev.handoff.server.HandoffAddress;
import dev.handoff.server.HandoffChannelOption;
import dev.handoff.server.HandoffServerChannel;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.springframework.context.SmartLifecycle;
import org.springframework.http.server.reactive.HttpHandler;
import org.springframework.http.server.reactive.ReactorHttpHandlerAdapter;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;
import reactor.netty.resources.LoopResources;

/**
 * For WebFlux on Reactor Netty: a second Reactor Netty HTTP server, beside the one Spring Boot
 * binds to its port, that serves the application's {@link HttpHandler} on the connections a proxy
 * hands over ({@link HandoffServerChannel} through {@link HandoffLoopResources}). Its own server
 * rather than a customizer of Spring Boot's: that one must keep its port, and Spring Boot reads its
 * bound address as an IP address. Started after the web server, stopped before it.
 *
 * <p>A take-over moves no connection of it (Reactor Netty's HTTP pipeline holds state that cannot
 * travel): the old instance's connections finish there, within the application's shutdown.
 */
public class HandoffReactorNettyServer implements SmartLifecycle {
  private final HandoffProperties properties;
  private final HttpHandler handler;
  private final MeterRegistry registry;
  private final HandoffReceivers receivers;
  private final Runnable afterHandOver;
  private volatile DisposableServer server;
  private volatile LoopResources loops;

  /**
   * @param registry where the handoff meters go; {@code null} for nowhere
   * @param afterHandOver run once a successor has taken over (stops the application)
   */
  public HandoffReactorNettyServer(HandoffProperties properties, HttpHandler handler,
      MeterRegistry registry, HandoffReceivers receivers, Runnable afterHandOver) {
    this.properties = properties;
    this.handler = handler;
    this.registry = registry;
    this.receivers = receivers;
    this.afterHandOver = afterHandOver;
  }

  @Override
  public void start() {
    LoopResources ownLoops = new HandoffLoopResources(LoopResources.create("handoff-http"));
    HttpServer http = HttpServer.create()
        .bindAddress(() -> new HandoffAddress(properties.getSocket()))
        .runOn(ownLoops)
        .option(HandoffChannelOption.SOCKET_MODE,
            PosixFilePermissions.fromString(properties.getSocketMode()))
        .option(HandoffChannelOption.TAKE_OVER, properties.isTakeOver());
    if (!properties.getAllowedUids().isEmpty()) {
      http = http.option(HandoffChannelOption.ALLOWED_UIDS, Set.copyOf(properties.getAllowedUids()));
    }
    if (properties.getMaxConnections() != null) {
      http = http.option(HandoffChannelOption.MAX_CONNECTIONS, properties.getMaxConnections());
    }
    if (registry != null) {
      http = http.option(HandoffChannelOption.METER_REGISTRY, registry);
    }
    DisposableServer bound = http.handle(new ReactorHttpHandlerAdapter(handler))
        .bindNow(Duration.ofSeconds(60));
    HandoffServerChannel channel = (HandoffServerChannel) bound.channel();
    CompletableFuture<Void> handedOver = channel.handedOver().toCompletableFuture();
    receivers.add(new HandoffReceivers.Receiver("reactor-netty", properties.getSocket(),
        channel::liveConnections, () -> "live=" + channel.liveConnections(), handedOver));
    handedOver.thenRun(afterHandOver);
    loops = ownLoops;
    server = bound;
  }

  @Override
  public void stop() {
    DisposableServer s = server;
    server = null;
    if (s != null) {
      s.disposeNow(Duration.ofSeconds(30));
    }
    LoopResources l = loops;
    loops = null;
    if (l != null) {
      l.disposeLater().block(Duration.ofSeconds(30));
    }
  }

  @Override
  public boolean isRunning() {
    return server != null;
  }

  /** After the web server (whose phase is lower), so that the application is ready to serve. */
  @Override
  public int getPhase() {
    return SmartLifecycle.DEFAULT_PHASE;
  }
}
