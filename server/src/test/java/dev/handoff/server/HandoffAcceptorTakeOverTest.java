package dev.handoff.server;

import static dev.handoff.server.TestConnections.handOver;
import static dev.handoff.server.TestConnections.read;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.HandoffChannel;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A take-over between two {@link HandoffAcceptor}s: the connections the running one's caller
 * pauses move to the successor's acceptor, with what the client sent meanwhile still in the
 * socket; those it keeps stay. Real unix link, real TCP connections.
 */
@Timeout(60)
class HandoffAcceptorTakeOverTest {
  @TempDir Path dir;

  /** The one connection the old acceptor's caller took, and what it answers a take-over. */
  private final AtomicReference<HandedOffChannel> taken = new AtomicReference<>();

  @Test
  void aPausedConnectionMovesWithTheBytesItsClientSentMeanwhile() throws Exception {
    Path socket = dir.resolve("app.sock");
    AcceptedConnections pauseAll = () -> List.of(() -> CompletableFuture.completedFuture(
        new PausedConnection(taken.get(), () -> {
          throw new AssertionError("the move succeeds: nothing to resume");
        })));
    try (HandoffAcceptor old = new HandoffServerBootstrap().bindAcceptor(socket, 16, pauseAll);
        HandoffChannel link = HandoffChannel.connect(socket);
        SocketChannel client = handOver(link, 7)) {
      assertEquals(Acknowledgement.Status.ADOPTED, link.receiveAck().status());
      taken.set(old.accept(Duration.ofSeconds(10)));
      assertNotNull(taken.get(), "the old acceptor got the connection");
      client.write(ByteBuffer.wrap("sent before the move".getBytes(StandardCharsets.US_ASCII)));

      try (HandoffAcceptor successor = new HandoffServerBootstrap()
          .takeOverAcceptor(socket, 16, AcceptedConnections.NONE)) {
        HandedOffChannel moved = successor.accept(Duration.ofSeconds(10));
        assertNotNull(moved, "the paused connection arrives at the successor");
        assertTrue(moved.handoff().migrated(), moved.handoff().toString());
        assertEquals(client.getLocalAddress(), moved.handoff().client());
        assertEquals("sent before the move", read(moved.channel(), 20),
            "the client's bytes travelled in the socket");
        old.handedOver().toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertFalse(taken.get().channel().isOpen(), "the old process closed its copy");
        moved.channel().write(ByteBuffer.wrap("from the successor".getBytes(
            StandardCharsets.US_ASCII)));
        assertEquals("from the successor", read(client, 18),
            "the connection lives on: closing the old copy did not shut it down");
        moved.channel().close();
      }
    }
  }

  @Test
  void aConnectionItsCallerKeepsStaysWithTheOldProcess() throws Exception {
    Path socket = dir.resolve("app.sock");
    AcceptedConnections keepAll = () -> List.of(() -> CompletableFuture.completedFuture(null));
    try (HandoffAcceptor old = new HandoffServerBootstrap().bindAcceptor(socket, 16, keepAll);
        HandoffChannel link = HandoffChannel.connect(socket);
        SocketChannel client = handOver(link, 8)) {
      assertEquals(Acknowledgement.Status.ADOPTED, link.receiveAck().status());
      HandedOffChannel kept = old.accept(Duration.ofSeconds(10));
      assertNotNull(kept);
      try (HandoffAcceptor successor = new HandoffServerBootstrap()
          .takeOverAcceptor(socket, 16, AcceptedConnections.NONE)) {
        old.handedOver().toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertNull(successor.accept(Duration.ofMillis(300)), "nothing moved");
        kept.channel().write(ByteBuffer.wrap("still here".getBytes(StandardCharsets.US_ASCII)));
        assertEquals("still here", read(client, 10));
        kept.channel().close();
      }
    }
  }

}
