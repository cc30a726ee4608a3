package dev.handoff.server;

import static dev.handoff.server.TestConnections.echo;
import static dev.handoff.server.TestConnections.handOver;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.HandoffChannel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The bootstrap's own contract: what bind refuses, and how a server closes. */
@Timeout(60)
class HandoffServerBootstrapTest {
  @TempDir Path dir;

  private static HandoffServerBootstrap echoing() {
    return TestConnections.echoingServer(1);
  }

  @Test
  void bindWithoutAChildHandlerIsRefused() {
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> new HandoffServerBootstrap().bind(dir.resolve("a.sock")));
    assertTrue(e.getMessage().contains("childHandler"), e.getMessage());
    assertFalse(Files.exists(dir.resolve("a.sock")));
  }

  @Test
  void aNonEpollGroupIsRefusedAtBindWithAClearMessage() throws Exception {
    EventLoopGroup nio = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> echoing().group(nio).bind(dir.resolve("a.sock")));
      assertTrue(e.getMessage().contains("must be an epoll group"), e.getMessage());
      assertFalse(Files.exists(dir.resolve("a.sock")), "nothing was bound");
    } finally {
      nio.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }

  @Test
  void aServerServesAndItsCloseClosesEverythingOnce() throws Exception {
    Path socket = dir.resolve("app.sock");
    HandoffServer server = echoing().bind(socket);
    try (HandoffChannel link = HandoffChannel.connect(socket);
        SocketChannel client = handOver(link, 3)) {
      assertEquals(Acknowledgement.Status.ADOPTED, link.receiveAck().status());
      assertEquals("one", echo(client, "one"));
      assertEquals(1, server.liveConnections());
      assertFalse(server.closeFuture().toCompletableFuture().isDone());

      // Several threads close at once: each returns once everything is closed.
      int n = 4;
      CountDownLatch go = new CountDownLatch(1);
      AtomicInteger returnedOpen = new AtomicInteger();
      List<Thread> closers = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        Thread t = new Thread(() -> {
          try {
            go.await();
          } catch (InterruptedException e) {
            return;
          }
          server.close();
          if (!server.closeFuture().toCompletableFuture().isDone()
              || server.liveConnections() != 0) {
            returnedOpen.incrementAndGet();
          }
        });
        t.start();
        closers.add(t);
      }
      go.countDown();
      for (Thread t : closers) {
        t.join(TimeUnit.SECONDS.toMillis(30));
        assertFalse(t.isAlive(), "close returns");
      }
      assertEquals(0, returnedOpen.get(), "no close returned before everything was closed");
      assertEquals(-1, client.read(java.nio.ByteBuffer.allocate(1)), "the connection is closed");
      assertFalse(Files.exists(socket), "the socket file is gone");
      server.close(); // and once more, later: nothing happens
    }
  }

  @Test
  void twoServersOnOneMeterRegistryAreBothMeasuredTaggedWithTheirSocket() throws Exception {
    io.micrometer.core.instrument.simple.SimpleMeterRegistry registry =
        new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
    Path a = dir.resolve("a.sock");
    Path b = dir.resolve("b.sock");
    try (HandoffServer first = echoing().meterRegistry(registry).maxConnections(3).bind(a);
        HandoffServer second = echoing().meterRegistry(registry).maxConnections(5).bind(b)) {
      assertEquals(3.0, registry.get("handoff.app.connections.max")
          .tag("socket", a.toAbsolutePath().toString()).gauge().value());
      assertEquals(5.0, registry.get("handoff.app.connections.max")
          .tag("socket", b.toAbsolutePath().toString()).gauge().value());
      try (HandoffChannel link = HandoffChannel.connect(b);
          SocketChannel client = handOver(link, 1)) {
        assertEquals(Acknowledgement.Status.ADOPTED, link.receiveAck().status());
        assertEquals(1.0, registry.get("handoff.app.handoffs.adopted")
            .tag("socket", b.toAbsolutePath().toString()).functionCounter().count());
        assertEquals(0.0, registry.get("handoff.app.handoffs.adopted")
            .tag("socket", a.toAbsolutePath().toString()).functionCounter().count());
      }
    }
  }

  @Test
  void awaitDrainedReturnsAsSoonAsTheLastConnectionEnds() throws Exception {
    Path socket = dir.resolve("app.sock");
    try (HandoffServer server = echoing().bind(socket);
        HandoffChannel link = HandoffChannel.connect(socket)) {
      SocketChannel client = handOver(link, 1);
      assertEquals(Acknowledgement.Status.ADOPTED, link.receiveAck().status());
      assertEquals(1, server.awaitDrained(Duration.ZERO), "one connection open");
      Thread closer = new Thread(() -> {
        try {
          client.close();
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      });
      closer.start();
      assertEquals(0, server.awaitDrained(Duration.ofSeconds(30)));
      closer.join();
    }
  }
}
