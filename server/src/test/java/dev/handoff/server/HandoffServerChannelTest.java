package dev.handoff.server;

import static dev.handoff.server.TestConnections.echo;
import static dev.handoff.server.TestConnections.handOver;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.HandoffChannel;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.OriginalClient;
import dev.handoff.common.internal.JdkNioInternals;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.AttributeKey;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The transport used as Netty users use a transport: Netty's own {@code ServerBootstrap} with a
 * boss and a worker group, {@link HandoffServerChannel} as the channel class, options, child
 * options and child attributes; a real unix link and real TCP connections.
 */
@Timeout(60)
class HandoffServerChannelTest {
  private static final AttributeKey<String> TAG = AttributeKey.valueOf("test-tag");

  @TempDir Path dir;
  private EventLoopGroup boss;
  private EventLoopGroup workers;
  private final Queue<Channel> children = new ConcurrentLinkedQueue<>();

  @BeforeEach
  void groups() {
    boss = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    workers = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
  }

  @AfterEach
  void stop() {
    boss.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    workers.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
  }

  private ServerBootstrap echoing() {
    return echoing(boss);
  }

  private ServerBootstrap echoing(EventLoopGroup bossGroup) {
    return new ServerBootstrap()
        .group(bossGroup, workers)
        .channel(HandoffServerChannel.class)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childAttr(TAG, "set by the bootstrap")
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            children.add(ch);
            ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
              @Override
              public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ctx.writeAndFlush(msg);
              }
            });
          }
        });
  }

  @Test
  void serverBootstrapServesEachHandedOffConnectionAsAChildWithItsFacts() throws Exception {
    Path socket = dir.resolve("app.sock");
    Channel server = echoing().bind(new HandoffAddress(socket)).sync().channel();
    try {
      assertTrue(server.isActive());
      assertEquals(new HandoffAddress(socket), server.localAddress());
      try (HandoffChannel link = HandoffChannel.connect(socket);
          SocketChannel client = handOver(link, 42)) {
        Acknowledgement ack = link.receiveAck();
        assertEquals(Acknowledgement.Status.ADOPTED, ack.status());
        assertEquals(42, ack.connectionId());
        assertEquals("ping", echo(client, "ping"));
        Channel child = children.peek();
        assertTrue(child instanceof EpollSocketChannel, "an epoll socket channel: " + child);
        assertSame(workers, child.eventLoop().parent(), "registered on the child group");
        assertEquals(42, Handoff.of(child).connectionId());
        assertEquals(client.getLocalAddress(), child.remoteAddress(), "the real client");
        assertEquals("set by the bootstrap", child.attr(TAG).get());
        assertEquals(Boolean.TRUE, child.config().getOption(ChannelOption.TCP_NODELAY));
        assertEquals(1, ((HandoffServerChannel) server).liveConnections());
      }
    } finally {
      server.close().sync();
    }
    Await.until(Duration.ofSeconds(10), () -> !Files.exists(socket),
        () -> "closing the server channel removes the socket file");
  }

  @Test
  void behindALoadBalancerTheChildsRemoteAddressIsTheClientItSpokeFor() throws Exception {
    Path socket = dir.resolve("app.sock");
    InetSocketAddress original = new InetSocketAddress("192.0.2.7", 51234);
    Channel server = echoing().bind(new HandoffAddress(socket)).sync().channel();
    try (HandoffChannel link = HandoffChannel.connect(socket);
        ServerSocketChannel listener = ServerSocketChannel.open()) {
      listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      try (SocketChannel balancer = SocketChannel.open(listener.getLocalAddress())) {
        try (SocketChannel served = listener.accept()) {
          link.send(new HandoffHeader(7, 0, (InetSocketAddress) served.getRemoteAddress(),
              (InetSocketAddress) served.getLocalAddress(),
              new OriginalClient(original, null, null)), JdkNioInternals.descriptorOf(served));
        }
        assertEquals(Acknowledgement.Status.ADOPTED, link.receiveAck().status());
        assertEquals("ping", echo(balancer, "ping"));
        Channel child = children.peek();
        assertEquals(original, child.remoteAddress(), "the client the balancer spoke for");
        assertEquals(original, Handoff.of(child).client());
        assertEquals(balancer.getLocalAddress(), Handoff.of(child).proxiedBy(),
            "the balancer, the socket's own peer");
      }
    } finally {
      server.close().sync();
    }
  }

  @Test
  void beyondMaxConnectionsTheProxyIsAnsweredRetry() throws Exception {
    Path socket = dir.resolve("app.sock");
    Channel server = echoing().option(HandoffChannelOption.MAX_CONNECTIONS, 1)
        .bind(new HandoffAddress(socket)).sync().channel();
    try (HandoffChannel link = HandoffChannel.connect(socket);
        SocketChannel first = handOver(link, 1)) {
      assertEquals(Acknowledgement.Status.ADOPTED, link.receiveAck().status());
      try (SocketChannel second = handOver(link, 2)) {
        Acknowledgement ack = link.receiveAck();
        assertEquals(Acknowledgement.Status.RETRY, ack.status());
        assertEquals(2, ack.connectionId());
      }
      assertEquals("still", echo(first, "still"));
    } finally {
      server.close().sync();
    }
  }

  /**
   * A child handler that closes the connection as it is set up (a filter refusing a client) makes
   * one answer, ADOPTED: the app took the connection and closed it, so the proxy closes its copy
   * and the client sees the end, instead of the connection being sent again (RETRY) and refused
   * again.
   */
  @Test
  void aChildItsInitializerClosesIsAnsweredAdoptedOnceAndItsClientSeesTheEnd() throws Exception {
    Path socket = dir.resolve("app.sock");
    Channel server = new ServerBootstrap().group(boss, workers)
        .channel(HandoffServerChannel.class)
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.close();
          }
        })
        .bind(new HandoffAddress(socket)).sync().channel();
    try (HandoffChannel link = HandoffChannel.connect(socket);
        SocketChannel client = handOver(link, 9)) {
      assertEquals(new Acknowledgement(9, Acknowledgement.Status.ADOPTED), link.receiveAck());
      assertEquals(-1, client.read(java.nio.ByteBuffer.allocate(1)), "the client sees the end");
      try (SocketChannel next = handOver(link, 10)) {
        assertEquals(new Acknowledgement(10, Acknowledgement.Status.ADOPTED), link.receiveAck(),
            "the next answer is the next connection's: no second one for the first");
      }
      Await.until(Duration.ofSeconds(10),
          () -> ((HandoffServerChannel) server).liveConnections() == 0,
          () -> "both closed connections are forgotten");
    } finally {
      server.close().sync();
    }
  }

  /**
   * A one-phase take-over moves the connection whose client sent data last at the end: it pauses
   * each connection just before its own move and the first waits for the last, so a client in the
   * middle of an exchange is paused the shortest.
   */
  @Test
  void aOnePhaseMoveTakesTheQuietestConnectionsFirstAndTheBusiestLast() throws Exception {
    Path socket = dir.resolve("app.sock");
    Channel server = echoing().bind(new HandoffAddress(socket)).sync().channel();
    List<ConnectionDetacher.Detached> moved = new ArrayList<>();
    try (HandoffChannel link = HandoffChannel.connect(socket)) {
      List<SocketChannel> clients = TestConnections.handOver(link, 8, 1);
      for (int i = 0; i < 8; i++) {
        assertEquals(Acknowledgement.Status.ADOPTED, link.receiveAck().status());
      }
      Await.until(Duration.ofSeconds(10), () -> children.size() == 8
          && children.stream().allMatch(c -> quiet(c) >= 20), () -> "every client quiet 20 ms");
      assertEquals("busy", echo(clients.get(2), "busy")); // connection 3
      Channel three = children.stream().filter(c -> Handoff.of(c).connectionId() == 3)
          .findFirst().orElseThrow();
      Await.until(Duration.ofSeconds(10), () -> quiet(three) >= 5, () -> "3 quiet 5 ms");
      assertEquals("busier", echo(clients.get(5), "busier")); // connection 6, the latest
      for (var pausing : ((HandoffServerChannel) server).server().engine().movable(true)) {
        moved.add(pausing.get().get(10, java.util.concurrent.TimeUnit.SECONDS));
      }
      assertEquals(List.of(3L, 6L), moved.subList(6, 8).stream()
          .map(d -> d.header().connectionId()).toList(),
          "the clients that sent data last are moved last, the latest at the end");
      for (SocketChannel client : clients) {
        client.close();
      }
    } finally {
      moved.forEach(d -> d.channel().unsafe().closeForcibly());
      server.close().sync();
    }
  }

  private static long quiet(Channel child) {
    return ConnectionDetacher.quietMillis((EpollSocketChannel) child);
  }

  @Test
  void closingTheServerChannelLeavesItsChildrenOpenAndAnswersClosing() throws Exception {
    Path socket = dir.resolve("app.sock");
    Channel server = echoing().bind(new HandoffAddress(socket)).sync().channel();
    try (HandoffChannel link = HandoffChannel.connect(socket);
        SocketChannel client = handOver(link, 7)) {
      assertEquals(Acknowledgement.Status.ADOPTED, link.receiveAck().status());
      server.close().sync();
      assertEquals(Acknowledgement.Status.CLOSING, link.receiveAck().status());
      assertEquals("after", echo(client, "after"), "the child outlives its server channel");
    }
  }

  @Test
  void aNonEpollBossGroupIsRefusedAtRegistration() throws Exception {
    EventLoopGroup nio = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try {
      ExecutionException refused = assertThrows(ExecutionException.class,
          () -> echoing(nio).bind(new HandoffAddress(dir.resolve("a.sock")))
              .get());
      assertTrue(refused.getCause().getMessage().contains("incompatible"),
          refused.getCause().toString());
      assertFalse(Files.exists(dir.resolve("a.sock")));
    } finally {
      nio.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }
  }

  @Test
  void aChildGroupOfAnotherTransportGetsEachHandoffAnsweredRetry() throws Exception {
    EventLoopGroup nio = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    Path socket = dir.resolve("app.sock");
    Channel server = new ServerBootstrap().group(boss, nio).channel(HandoffServerChannel.class)
        .childHandler(new ChannelInboundHandlerAdapter())
        .bind(new HandoffAddress(socket)).sync().channel();
    try (HandoffChannel link = HandoffChannel.connect(socket);
        SocketChannel client = handOver(link, 5)) {
      Acknowledgement ack = link.receiveAck();
      assertEquals(Acknowledgement.Status.RETRY, ack.status(), "the proxy keeps the connection");
      assertEquals(0, ((HandoffServerChannel) server).liveConnections());
    } finally {
      server.close().sync();
      nio.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }
  }

  @Test
  void bindingAnythingButAHandoffAddressFailsClearly() {
    ExecutionException refused = assertThrows(ExecutionException.class,
        () -> echoing().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).get());
    assertTrue(refused.getCause().getMessage().contains("HandoffAddress"),
        refused.getCause().toString());
  }
}
