package dev.handoff.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.Descriptors;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.internal.JdkNioInternals;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import java.io.FileDescriptor;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Pausing many connections of a real epoll event loop for a two-phase take-over's switch. */
@Timeout(30)
class ConnectionDetacherTest {
  private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1,
      EpollIoHandler.newFactory());
  private final List<SocketChannel> clients = new ArrayList<>();
  private final List<EpollSocketChannel> channels = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (EpollSocketChannel channel : channels) {
      channel.unsafe().closeForcibly();
    }
    for (SocketChannel client : clients) {
      client.close();
    }
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
  }

  /** {@code n} real TCP connections, their server ends served by epoll channels on the loop. */
  private List<EpollSocketChannel> connections(int n) throws Exception {
    EventLoop loop = group.next();
    try (ServerSocketChannel listener = ServerSocketChannel.open()) {
      listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), n);
      for (int i = 0; i < n; i++) {
        SocketChannel client = SocketChannel.open(listener.getLocalAddress());
        clients.add(client);
        try (SocketChannel accepted = listener.accept()) {
          FileDescriptor copy = Descriptors.duplicate(JdkNioInternals.descriptorOf(accepted));
          JdkNioInternals.setBlocking(copy, false);
          InetSocketAddress peer = (InetSocketAddress) accepted.getRemoteAddress();
          EpollSocketChannel channel = EpollChannels.childOf(
              EpollChannels.socketOf(Descriptors.number(copy)), peer);
          channel.attr(Handoff.ATTRIBUTE).set(Handoff.of(new HandoffHeader(i + 1, 0, peer,
              (InetSocketAddress) accepted.getLocalAddress())));
          channel.pipeline().addLast(new ChannelInboundHandlerAdapter());
          loop.register(channel).sync();
          channels.add(channel);
        }
      }
    }
    return channels;
  }

  /**
   * The switch pauses a loop's connections a turn of the loop at a time, in the order given, so
   * that the loop reads and writes the connections not paused yet (the busiest, given last)
   * between two turns instead of after them all.
   */
  @Test
  void theSwitchPausesALoopsConnectionsATurnAtATimeInTheOrderGiven() throws Exception {
    int n = 2 * ConnectionDetacher.PAUSES_PER_TURN + 5;
    List<EpollSocketChannel> all = connections(n);
    EventLoop loop = all.get(0).eventLoop();
    CompletableFuture<List<Boolean>> betweenTurns = new CompletableFuture<>();
    List<CompletableFuture<ConnectionDetacher.Detached>> pausing = loop.submit(() -> {
      List<CompletableFuture<ConnectionDetacher.Detached>> started =
          ConnectionDetacher.detachAll(all, true);
      // Queued behind the first turn: the loop runs it before the next one.
      loop.execute(() -> betweenTurns.complete(all.stream()
          .map(c -> c.config().isAutoRead()).toList()));
      return started;
    }).get(10, TimeUnit.SECONDS);
    List<Boolean> reading = betweenTurns.get(10, TimeUnit.SECONDS);
    for (int i = 0; i < n; i++) {
      assertEquals(i >= ConnectionDetacher.PAUSES_PER_TURN, reading.get(i),
          "connection " + i + " after the first turn: paused only if among the first "
              + ConnectionDetacher.PAUSES_PER_TURN);
    }
    for (int i = 0; i < n; i++) {
      ConnectionDetacher.Detached d = pausing.get(i).get(10, TimeUnit.SECONDS);
      assertNotNull(d, "connection " + i + " paused and off its loop");
      assertEquals(i + 1, d.header().connectionId());
      assertTrue(!all.get(i).isRegistered(), "connection " + i + " left its loop");
    }
  }
}
