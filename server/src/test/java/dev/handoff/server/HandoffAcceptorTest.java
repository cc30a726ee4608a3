package dev.handoff.server;

import static dev.handoff.server.TestConnections.handOver;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.HandoffChannel;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Handed-off connections as JDK socket channels: accept, its wait, and close. */
@Timeout(60)
class HandoffAcceptorTest {
  @TempDir Path dir;

  @Test
  void acceptGivesEachConnectionAsABlockingSocketChannelWithItsFacts() throws Exception {
    Path socket = dir.resolve("app.sock");
    try (HandoffAcceptor acceptor = new HandoffServerBootstrap().bindAcceptor(socket, 4);
        HandoffChannel link = HandoffChannel.connect(socket);
        SocketChannel client = handOver(link, 9)) {
      assertEquals(Acknowledgement.Status.ADOPTED, link.receiveAck().status());
      HandedOffChannel accepted = acceptor.accept();
      try (SocketChannel channel = accepted.channel()) {
        assertTrue(channel.isBlocking());
        assertEquals(9, accepted.handoff().connectionId());
        assertEquals(client.getLocalAddress(), channel.getRemoteAddress());
        client.write(ByteBuffer.wrap(new byte[] {42}));
        ByteBuffer in = ByteBuffer.allocate(1);
        assertEquals(1, channel.read(in));
        assertEquals(42, in.get(0));
      }
      assertNull(acceptor.accept(Duration.ofMillis(50)), "nothing else came");
    }
  }

  @Test
  void beyondTheQueueTheProxyIsAnsweredRetry() throws Exception {
    Path socket = dir.resolve("app.sock");
    try (HandoffAcceptor acceptor = new HandoffServerBootstrap().bindAcceptor(socket, 1);
        HandoffChannel link = HandoffChannel.connect(socket);
        SocketChannel first = handOver(link, 1);
        SocketChannel second = handOver(link, 2)) {
      assertEquals(Acknowledgement.Status.ADOPTED, link.receiveAck().status());
      assertEquals(Acknowledgement.Status.RETRY, link.receiveAck().status());
      acceptor.accept().channel().close();
    }
  }

  @Test
  void closeWakesACallerWaitingInAccept() throws Exception {
    HandoffAcceptor acceptor = new HandoffServerBootstrap().bindAcceptor(dir.resolve("a.sock"), 4);
    CompletableFuture<HandedOffChannel> waiting = new CompletableFuture<>();
    Thread caller = new Thread(() -> {
      try {
        waiting.complete(acceptor.accept());
      } catch (Exception e) {
        waiting.completeExceptionally(e);
      }
    }, "accepting");
    caller.start();
    Await.until(Duration.ofSeconds(10), () -> caller.getState() == Thread.State.WAITING,
        () -> "the caller waits in accept(): " + caller.getState());
    acceptor.close();
    ExecutionException e = assertThrows(ExecutionException.class,
        () -> waiting.get(10, TimeUnit.SECONDS));
    assertTrue(e.getCause() instanceof ClosedChannelException, e.toString());
    assertThrows(ClosedChannelException.class, acceptor::accept);
  }
}
