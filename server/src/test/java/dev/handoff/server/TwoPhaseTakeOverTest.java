package dev.handoff.server;

import static dev.handoff.server.TestConnections.echo;
import static dev.handoff.server.TestConnections.handOver;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Acknowledgement.Status;
import dev.handoff.common.HandoffChannel;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.ReceivedHandoff;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A two-phase take-over against a real app (epoll event loops, real TCP connections, a real
 * link): the copies go while the app serves on, a successor gone between the phases leaves every
 * connection served by the old app, and a committed move carries each connection's handler
 * state to a real successor.
 */
@Timeout(60)
class TwoPhaseTakeOverTest {
  private static final int CONNECTIONS = 6;
  @TempDir Path dir;

  /**
   * Echoes what it reads, and answers a read that begins with {@code #} with the number of bytes
   * it has echoed on this connection so far (8 digits): state that must move with it.
   */
  static final class Counting extends ChannelInboundHandlerAdapter implements MigratableHandler {
    private long echoed;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ByteBuf bytes = (ByteBuf) msg;
      if (bytes.isReadable() && bytes.getByte(bytes.readerIndex()) == '#') {
        bytes.release();
        ctx.writeAndFlush(Unpooled.copiedBuffer(String.format("%08d", echoed),
            StandardCharsets.US_ASCII));
        return;
      }
      echoed += bytes.readableBytes();
      ctx.writeAndFlush(bytes);
    }

    @Override
    public byte[] exportState(ChannelHandlerContext ctx) {
      return ByteBuffer.allocate(8).putLong(echoed).array();
    }

    @Override
    public void importState(ChannelHandlerContext ctx, byte[] state) {
      echoed = ByteBuffer.wrap(state).getLong();
    }
  }

  private static HandoffServerBootstrap counting() {
    return new HandoffServerBootstrap().ioThreads(2).childHandler(
        new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast("counting", new Counting());
          }
        });
  }

  /** What the connection's handler says it has echoed. */
  private static String count(SocketChannel client) throws IOException {
    client.write(ByteBuffer.wrap(new byte[] {'#'}));
    return TestConnections.read(client, 8);
  }

  private static HandoffChannel askToTakeOver(Path socket) throws IOException {
    HandoffChannel successor = HandoffChannel.connect(socket, true);
    InetSocketAddress none = new InetSocketAddress(0);
    successor.send(new HandoffHeader(Successor.TWO_PHASE, 0, none, none,
        HandoffHeader.Kind.TAKEOVER, 0), null);
    return successor;
  }

  /**
   * The successor holds a copy of every connection (and has answered each), yet the old app still
   * echoes on every one; then the successor dies before the switch: the old app has paused none
   * and serves them all on, and takes handoffs again.
   */
  @Test
  void theOldAppServesEveryConnectionWhileItsCopiesAreOutAndAfterTheSuccessorDies()
      throws Exception {
    Path socket = dir.resolve("app.sock");
    HandoffServer server = counting().bind(socket);
    List<ReceivedHandoff> copies = new ArrayList<>();
    try (HandoffChannel proxy = HandoffChannel.connect(socket)) {
      List<SocketChannel> clients = handOver(proxy, CONNECTIONS, 1);
      for (SocketChannel client : clients) {
        assertEquals("before", echo(client, "before"));
      }
      HandoffChannel successor = askToTakeOver(socket);
      assertEquals(new Acknowledgement(Successor.TWO_PHASE, Status.ADOPTED),
          successor.receiveAck(), "the path is yours; the move is in two phases");
      successor.sendAck(new Acknowledgement(0, Status.ADOPTED)); // "bound"
      for (int i = 1; i <= CONNECTIONS; i++) {
        ReceivedHandoff copy = successor.receive();
        assertNotNull(copy);
        copies.add(copy);
        assertEquals(HandoffHeader.Kind.PREPARED, copy.header().kind());
        assertEquals(i, copy.header().connectionId());
        assertTrue(copy.descriptor().valid());
        if (i < CONNECTIONS) {
          // The last is left unanswered, so that the old app waits between the phases.
          successor.sendAck(new Acknowledgement(i, Status.ADOPTED)); // held
        }
      }
      for (SocketChannel client : clients) {
        assertEquals("during", echo(client, "during"),
            "served by the old app once every copy was sent, most of them held");
      }
      // The successor dies between the phases: its copies and its link go.
      copies.forEach(ReceivedHandoff::close);
      successor.close();
      Await.until(Duration.ofSeconds(20), () -> Files.exists(socket),
          () -> "the old app binds its socket path again");
      for (SocketChannel client : clients) {
        assertEquals("after", echo(client, "after"));
        assertEquals(String.format("%08d", "beforeduringafter".length()), count(client),
            "the same pipeline served it throughout");
      }
      assertEquals(CONNECTIONS, server.liveConnections());
      assertFalse(server.handedOver().toCompletableFuture().isDone());
      try (HandoffChannel again = HandoffChannel.connect(socket);
          SocketChannel late = handOver(again, 99)) {
        assertEquals(Status.ADOPTED, again.receiveAck().status(), "it takes handoffs again");
        assertEquals("late", echo(late, "late"));
      }
      for (SocketChannel client : clients) {
        client.close();
      }
    } finally {
      copies.forEach(ReceivedHandoff::close);
      server.close();
    }
  }

  /**
   * A committed two-phase move to a real successor: every connection is served there, with its
   * handler's state, and the old app is done.
   */
  @Test
  void aCommittedMoveServesEveryConnectionOnTheSuccessorWithItsState() throws Exception {
    Path socket = dir.resolve("app.sock");
    HandoffServer old = counting().bind(socket);
    HandoffServer successor = null;
    try (HandoffChannel proxy = HandoffChannel.connect(socket)) {
      List<SocketChannel> clients = handOver(proxy, CONNECTIONS, 1);
      for (int i = 0; i < clients.size(); i++) {
        String text = "x".repeat(i + 1);
        assertEquals(text, echo(clients.get(i), text));
      }
      successor = counting().takeOver(socket);
      old.handedOver().toCompletableFuture().get(20, TimeUnit.SECONDS);
      assertEquals(CONNECTIONS, successor.liveConnections());
      for (int i = 0; i < clients.size(); i++) {
        SocketChannel client = clients.get(i);
        assertEquals(String.format("%08d", i + 1), count(client),
            "the count the old app's handler had");
        assertEquals("moved", echo(client, "moved"));
        client.close();
      }
    } finally {
      old.close();
      if (successor != null) {
        successor.close();
      }
    }
  }

}
