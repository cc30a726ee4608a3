package dev.handoff.server;

import static dev.handoff.server.TestConnections.echo;
import static dev.handoff.server.TestConnections.handOver;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.HandoffChannel;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.internal.JdkNioInternals;
import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A proxy link read on an event loop (LinkPoller), through the public bootstrap, a real unix link
 * and real TCP connections: every handoff is answered and served, no thread is spent on the link,
 * a link that ends leaves no descriptor behind, and a server that stops answers CLOSING and then
 * ends the link.
 */
@Timeout(60)
class LinkPollerTest {
  @TempDir Path dir;

  /** One full round first, so that what loads once (native libraries...) is not counted. */
  @org.junit.jupiter.api.BeforeAll
  static void warmUp(@TempDir Path warmDir) throws Exception {
    LinkPollerTest warm = new LinkPollerTest();
    warm.dir = warmDir;
    warm.serveThenStop();
  }

  private static HandoffServerBootstrap echoing() {
    return TestConnections.echoingServer(2);
  }

  private static int openDescriptors() {
    String[] names = new File("/proc/self/fd").list();
    return names == null ? -1 : names.length;
  }

  /** Waits (bounded) for the process's descriptors to come back to {@code expected}. */
  private static int settle(int expected) throws InterruptedException {
    int n = openDescriptors();
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(5);
    while (n != expected && System.nanoTime() - deadline < 0) {
      java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
      n = openDescriptors();
    }
    return n;
  }

  private static boolean linkThreadRunning() {
    return Thread.getAllStackTraces().keySet().stream()
        .anyMatch(t -> t.getName().startsWith("link-") && !t.getName().equals("link-acceptor"));
  }

  /** As {@link TestConnections#handOver}, ids 1 to n, with the n messages sent back to back. */
  private static List<SocketChannel> handOverTogether(HandoffChannel link, int n)
      throws IOException {
    List<SocketChannel> clients = new ArrayList<>();
    List<SocketChannel> copies = new ArrayList<>();
    try (ServerSocketChannel listener = ServerSocketChannel.open()) {
      listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      for (int i = 0; i < n; i++) {
        clients.add(SocketChannel.open(listener.getLocalAddress()));
        copies.add(listener.accept());
      }
      for (int i = 0; i < n; i++) {
        TestConnections.send(link, i + 1, copies.get(i));
      }
    } finally {
      for (SocketChannel copy : copies) {
        copy.close();
      }
    }
    return clients;
  }

  /**
   * The answer to a handoff is on the link before the connection's first read, whichever event
   * loop serves it: an app killed once it has read a client's bytes must have told the proxy, or
   * the proxy, seeing the link end with the handoff unanswered, sends the connection to another
   * app without the bytes the first one consumed. Every client has written before its handoff is
   * sent, so each child reads at once; at its first read, each finds every answer given so far in
   * the proxy's socket.
   */
  @Test
  void everyAnswerIsOnTheLinkBeforeItsConnectionIsFirstRead() throws Exception {
    Path socket = dir.resolve("app.sock");
    int n = 100;
    java.util.concurrent.atomic.AtomicInteger read = new java.util.concurrent.atomic.AtomicInteger();
    List<String> early = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.concurrent.atomic.AtomicReference<java.io.InputStream> proxySide =
        new java.util.concurrent.atomic.AtomicReference<>();
    io.netty.util.AttributeKey<Boolean> seen = io.netty.util.AttributeKey.valueOf("seen");
    HandoffServer server = new HandoffServerBootstrap().ioThreads(2)
        .childHandler(new io.netty.channel.ChannelInboundHandlerAdapter() {
          @Override
          public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg)
              throws Exception {
            io.netty.util.ReferenceCountUtil.release(msg);
            if (ctx.channel().attr(seen).setIfAbsent(Boolean.TRUE) == null) {
              int k = read.incrementAndGet(); // each of the k was answered before its read
              int answered = proxySide.get().available() / dev.handoff.common.AckCodec.LENGTH;
              if (answered < k) {
                early.add("first read " + k + " found " + answered + " answers");
              }
            }
          }

          @Override
          public boolean isSharable() {
            return true;
          }
        }).bind(socket);
    List<SocketChannel> clients = new ArrayList<>();
    org.newsclub.net.unix.AFUNIXSocketChannel raw = org.newsclub.net.unix.AFUNIXSocketChannel
        .open(org.newsclub.net.unix.AFUNIXSocketAddress.of(socket));
    proxySide.set(raw.socket().getInputStream());
    HandoffChannel link = HandoffChannel.accepted(raw, "test proxy");
    try (ServerSocketChannel listener = ServerSocketChannel.open()) {
      listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      for (int i = 0; i < n; i++) {
        SocketChannel client = SocketChannel.open(listener.getLocalAddress());
        clients.add(client);
        try (SocketChannel copy = listener.accept()) {
          client.write(java.nio.ByteBuffer.wrap(new byte[] {'x'}));
          TestConnections.send(link, i + 1, copy);
        }
      }
      Await.until(java.time.Duration.ofSeconds(10), () -> read.get() == n,
          () -> read.get() + " of " + n + " read");
      assertEquals(List.of(), early, "answers written after their connection was first read");
      for (int i = 0; i < n; i++) {
        assertEquals(Acknowledgement.Status.ADOPTED, link.receiveAck().status());
      }
    } finally {
      link.close();
      for (SocketChannel c : clients) {
        c.close();
      }
      server.close();
    }
  }

  @Test
  void everyHandoffIsAnsweredAndServedWithoutALinkThread() throws Exception {
    Path socket = dir.resolve("app.sock");
    HandoffServer server = echoing().bind(socket);
    // Counted with the server up: what it holds while idle is not this test's business.
    int baseline = openDescriptors();
    List<SocketChannel> clients = List.of();
    try {
      HandoffChannel link = HandoffChannel.connect(socket);
      try {
        clients = handOver(link, 200, 1);
        Set<Long> adopted = new HashSet<>();
        for (int i = 0; i < 200; i++) {
          Acknowledgement ack = link.receiveAck();
          assertEquals(Acknowledgement.Status.ADOPTED, ack.status(), "answer " + i);
          adopted.add(ack.connectionId());
        }
        assertEquals(200, adopted.size(), "one answer per connection");
        assertTrue(!linkThreadRunning(), "the link is read on an event loop, not a thread");
        for (int i = 0; i < clients.size(); i += 20) {
          assertEquals("c" + i, echo(clients.get(i), "c" + i));
        }
        assertEquals(200, server.liveConnections());
      } finally {
        link.close();
      }
      Await.until(java.time.Duration.ofSeconds(10), () -> server.summary().contains("links=0"),
          server::summary);
      assertEquals("after", echo(clients.get(7), "after"),
          "closing the link closes no connection received on it");
      for (SocketChannel c : clients) {
        c.close();
      }
      assertEquals(0, server.awaitDrained(java.time.Duration.ofSeconds(10)));
      assertEquals(baseline, settle(baseline),
          "the link's descriptors and every connection's are closed, on both sides");
    } finally {
      for (SocketChannel c : clients) {
        c.close();
      }
      server.close();
    }
  }

  /**
   * Handoffs sent back to back with the link's end right behind them are read in one wake-up and
   * their answers written together: every answer still comes before the link ends.
   */
  @Test
  void answersOfTheLastBurstAllComeBeforeTheLinkEnds() throws Exception {
    Path socket = dir.resolve("app.sock");
    HandoffServer server = echoing().bind(socket);
    List<SocketChannel> clients = List.of();
    HandoffChannel link = HandoffChannel.connect(socket);
    try {
      clients = handOverTogether(link, 5);
      link.shutdownOutput(); // right behind them: the app reads the end in the same wake-up
      Set<Long> adopted = new HashSet<>();
      Acknowledgement ack;
      while ((ack = link.receiveAck()) != null) {
        assertEquals(Acknowledgement.Status.ADOPTED, ack.status());
        adopted.add(ack.connectionId());
      }
      assertEquals(Set.of(1L, 2L, 3L, 4L, 5L), adopted, "every answer before the link's end");
      assertEquals("served", echo(clients.get(4), "served"));
    } finally {
      link.close();
      for (SocketChannel c : clients) {
        c.close();
      }
      server.close();
    }
  }

  @Test
  void stoppingAnswersClosingThenEndsTheLink() throws Exception {
    serveThenStop();
  }

  private void serveThenStop() throws Exception {
    Path socket = dir.resolve("app.sock");
    HandoffServer server = echoing().bind(socket);
    List<SocketChannel> clients = List.of();
    HandoffChannel link = HandoffChannel.connect(socket);
    try {
      clients = handOver(link, 3, 1);
      for (int i = 0; i < 3; i++) {
        assertEquals(Acknowledgement.Status.ADOPTED, link.receiveAck().status());
      }
      server.stopTakingHandoffs();
      Acknowledgement closing = link.receiveAck();
      assertEquals(Acknowledgement.Status.CLOSING, closing.status());
      assertEquals("still", echo(clients.get(1), "still"), "stopping keeps the connections");
      server.close();
      assertNull(link.receiveAck(), "the app closed the link");
    } finally {
      link.close();
      for (SocketChannel c : clients) {
        c.close();
      }
      server.close();
    }
  }

  @Test
  void whatIsNotAConnectedTcpSocketIsRefusedAndTheLinkGoesOn() throws Exception {
    Path socket = dir.resolve("app.sock");
    HandoffServer server = echoing().bind(socket);
    HandoffChannel link = HandoffChannel.connect(socket);
    List<SocketChannel> clients = List.of();
    try (ServerSocketChannel listening = ServerSocketChannel.open();
        java.nio.channels.DatagramChannel udp = java.nio.channels.DatagramChannel.open()) {
      listening.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      udp.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      udp.connect(listening.getLocalAddress()); // a peer, but not a stream
      InetSocketAddress here = (InetSocketAddress) listening.getLocalAddress();
      link.send(new HandoffHeader(1, 0, here, here), JdkNioInternals.descriptorOf(listening));
      link.send(new HandoffHeader(2, 0, here, here), JdkNioInternals.descriptorOf(udp));
      assertEquals(new Acknowledgement(1, Acknowledgement.Status.REJECTED), link.receiveAck());
      assertEquals(new Acknowledgement(2, Acknowledgement.Status.REJECTED), link.receiveAck());
      clients = handOver(link, 1, 3);
      assertEquals(new Acknowledgement(3, Acknowledgement.Status.ADOPTED), link.receiveAck());
      assertEquals("on", echo(clients.get(0), "on"));
      assertTrue(server.summary().contains("refused=2"), server.summary());
    } finally {
      link.close();
      for (SocketChannel c : clients) {
        c.close();
      }
      server.close();
    }
  }
}
