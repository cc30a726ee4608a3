package dev.handoff.server;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.HandoffException;
import dev.handoff.common.HandoffException.Reason;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.ReceivedHandoff;
import dev.handoff.common.internal.JdkNioInternals;
import io.netty.channel.epoll.Epoll;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.Pipe;
import java.nio.channels.SelectableChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The check (Netty's view of the socket, then one getsockopt(TCP_INFO)) that the epoll engine makes of every received descriptor,
 * on real descriptors of every kind a sender could attach: only a connected TCP socket passes, a
 * socket whose client reset is told apart as gone, and nothing is closed by the check.
 */
class DescriptorCheckTest {
  @BeforeAll
  static void nativeEpoll() {
    Epoll.ensureAvailability();
  }

  private static ReceivedHandoff viewOf(SelectableChannel channel) {
    InetSocketAddress none = new InetSocketAddress(0);
    return new ReceivedHandoff(new HandoffHeader(7, 0, none, none),
        JdkNioInternals.descriptorOf(channel), JdkNioInternals.numberOf(channel), null);
  }

  private static int stateOf(SelectableChannel channel) {
    return EpollChannels.tcpState(
        EpollChannels.socketOf(JdkNioInternals.numberOf(channel)));
  }

  private static Reason refusal(SelectableChannel channel) {
    HandoffException e = assertThrows(HandoffException.class,
        () -> DescriptorCheck.requireConnectedTcpSocket(viewOf(channel)));
    assertEquals(7, e.connectionId());
    return e.reason();
  }

  /** A connected pair on loopback: the client end and the accepted end. */
  private record Pair(SocketChannel client, SocketChannel accepted) implements AutoCloseable {
    static Pair open() throws IOException {
      try (ServerSocketChannel listener = ServerSocketChannel.open()) {
        listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        SocketChannel client = SocketChannel.open(listener.getLocalAddress());
        return new Pair(client, listener.accept());
      }
    }

    @Override
    public void close() throws IOException {
      client.close();
      accepted.close();
    }
  }

  @Test
  void anAcceptedConnectionPassesAndStaysOpen() throws Exception {
    try (Pair pair = Pair.open()) {
      assertDoesNotThrow(() -> DescriptorCheck.requireConnectedTcpSocket(viewOf(pair.accepted())));
      pair.client().write(ByteBuffer.wrap(new byte[] {1}));
      assertEquals(1, pair.accepted().read(ByteBuffer.allocate(4)), "the check closed nothing");
    }
  }

  @Test
  void aConnectionWhoseClientClosedItsSidePasses() throws Exception {
    try (Pair pair = Pair.open()) {
      pair.client().shutdownOutput();
      Await.until(Duration.ofSeconds(5), () -> stateOf(pair.accepted()) != 1,
          () -> "state " + stateOf(pair.accepted()));
      assertDoesNotThrow(() -> DescriptorCheck.requireConnectedTcpSocket(viewOf(pair.accepted())),
          "half-closed: the app still answers it");
    }
  }

  @Test
  void aConnectionWhoseClientResetIsGone() throws Exception {
    try (Pair pair = Pair.open()) {
      pair.client().setOption(StandardSocketOptions.SO_LINGER, 0);
      pair.client().close(); // RST
      Await.until(Duration.ofSeconds(5),
          () -> stateOf(pair.accepted()) == EpollChannels.CLOSE,
          () -> "state " + stateOf(pair.accepted()));
      assertEquals(Reason.CLIENT_GONE, refusal(pair.accepted()));
    }
  }

  @Test
  void aListeningSocketIsRefused() throws Exception {
    try (ServerSocketChannel listener = ServerSocketChannel.open()) {
      listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      assertEquals(Reason.NOT_A_CONNECTED_STREAM_SOCKET, refusal(listener));
    }
  }

  @Test
  void aDatagramSocketAUnixSocketAndAPipeAreRefused() throws Exception {
    try (DatagramChannel udp = DatagramChannel.open();
        SocketChannel unix = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      udp.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), 9));
      assertEquals(Reason.NOT_A_CONNECTED_STREAM_SOCKET, refusal(udp));
      assertEquals(Reason.NOT_A_CONNECTED_STREAM_SOCKET, refusal(unix));
    }
    Pipe pipe = Pipe.open();
    try {
      assertEquals(Reason.NOT_A_CONNECTED_STREAM_SOCKET, refusal(pipe.sink()));
      assertTrue(pipe.sink().isOpen(), "the check closed nothing");
    } finally {
      pipe.sink().close();
      pipe.source().close();
    }
  }
}
