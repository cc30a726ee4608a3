package dev.handoff.examples.grpc;

import dev.handoff.server.HandoffAddress;
import dev.handoff.server.HandoffChannelOption;
import dev.handoff.server.HandoffServerChannel;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A gRPC server on the connections a proxy hands off: grpc-java's own {@code NettyServerBuilder}
 * with the {@link HandoffServerChannel} transport, serving {@code grpc.health.v1.Health} and the
 * {@link Echo} service.
 *
 * <p>{@code --take-over} starts a successor: it binds the socket path at once (proxies re-link to
 * it by themselves), and the running server, told so by its channel's {@code handedOver()}, shuts
 * down gracefully: HTTP/2 GOAWAY on each connection, calls in flight finish, and each client's
 * next connection goes through the proxy to the successor. No connection moves: an HTTP/2
 * connection's state (streams, flow-control windows, HPACK tables) lives in its pipeline, which
 * cannot travel, and GOAWAY is the protocol's own way to move a client to another server without
 * failing a call.
 *
 * <p>Stops on SIGTERM or SIGINT the same graceful way.
 */
public final class GrpcExample {
  private static final Logger log = LoggerFactory.getLogger(GrpcExample.class);
  /** How long calls in flight may take to finish once the server stops. */
  private static final long DRAIN_SECONDS = 30;

  private GrpcExample() {}

  public static void main(String[] args) throws Exception {
    boolean takeOver = false;
    Path socket = null;
    for (String arg : args) {
      if (arg.equals("--take-over")) {
        takeOver = true;
      } else if (arg.equals("--help") || arg.equals("-h")) {
        System.out.println("usage: grpc-example [--take-over] SOCKET");
        return;
      } else if (socket == null && !arg.startsWith("-")) {
        socket = Path.of(arg);
      } else {
        System.err.println("usage: grpc-example [--take-over] SOCKET");
        System.exit(2);
      }
    }
    if (socket == null) {
      System.err.println("usage: grpc-example [--take-over] SOCKET");
      System.exit(2);
    }
    EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1,
        new DefaultThreadFactory("grpc-boss", true), EpollIoHandler.newFactory());
    EventLoopGroup workers = new MultiThreadIoEventLoopGroup(0,
        new DefaultThreadFactory("grpc-worker", true), EpollIoHandler.newFactory());
    AtomicReference<HandoffServerChannel> channel = new AtomicReference<>();
    HealthStatusManager health = new HealthStatusManager();
    Server server;
    try {
      server = NettyServerBuilder.forAddress(new HandoffAddress(socket))
          .channelFactory(() -> {
            HandoffServerChannel created = new HandoffServerChannel();
            channel.set(created);
            return created;
          })
          .bossEventLoopGroup(boss)
          .workerEventLoopGroup(workers)
          .withOption(HandoffChannelOption.TAKE_OVER, takeOver)
          .addService(health.getHealthService())
          .addService(Echo.service())
          .build()
          .start();
    } catch (Exception e) {
      log.error("cannot start on {}: {}", socket, e.getMessage());
      boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      System.exit(1);
      return;
    }
    log.info("serving gRPC on the connections handed over at {} (pid {})", socket,
        ProcessHandle.current().pid());
    CountDownLatch stop = new CountDownLatch(1);
    channel.get().handedOver().whenComplete((done, lost) -> {
      if (lost == null) {
        log.info("a successor took over; stopping once the calls in flight are done");
      }
      stop.countDown();
    });
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      stop.countDown();
      try {
        stopped.await(DRAIN_SECONDS + 5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "grpc-example-stop"));
    stop.await();
    health.enterTerminalState();
    server.shutdown(); // GOAWAY on every connection; calls in flight go on
    if (!server.awaitTermination(DRAIN_SECONDS, TimeUnit.SECONDS)) {
      log.info("drain timeout reached; closing the connections left");
      server.shutdownNow();
    }
    boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    log.info("stopped");
    stopped.countDown();
  }
}
