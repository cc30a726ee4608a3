package dev.handoff.server;

import static dev.handoff.server.TestConnections.echo;
import static dev.handoff.server.TestConnections.echoingServer;
import static dev.handoff.server.TestConnections.handOver;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.Acknowledgement.Status;
import dev.handoff.common.HandoffChannel;
import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The successor's readiness gate, between two real servers: the old app moves nothing until the
 * successor's check has returned; a check that fails or never returns rolls the take-over back
 * with every connection served by the old app, which then takes handoffs again.
 */
@Timeout(60)
class ReadinessGateTest {
  private static final int CONNECTIONS = 4;
  @TempDir Path dir;

  /** The old app serves every connection, has not handed over, and takes handoffs again. */
  private static void assertOldAppServesEverything(Path socket, HandoffServer old,
      List<SocketChannel> clients) throws Exception {
    Await.until(Duration.ofSeconds(20), () -> Files.exists(socket) && old.takingHandoffs(),
        () -> "the old app binds its socket path again");
    for (SocketChannel client : clients) {
      assertEquals("after", echo(client, "after"), "the old app serves it");
    }
    assertEquals(CONNECTIONS, old.liveConnections());
    assertFalse(old.handedOver().toCompletableFuture().isDone(), "it did not hand over");
    try (HandoffChannel again = HandoffChannel.connect(socket);
        SocketChannel late = handOver(again, 99)) {
      assertEquals(Status.ADOPTED, again.receiveAck().status(), "it takes handoffs again");
      assertEquals("late", echo(late, "late"));
    }
  }

  @Test
  void aSuccessorWhoseReadinessCheckFailsIsRolledBackWithEveryConnectionServedByTheOldApp()
      throws Exception {
    Path socket = dir.resolve("app.sock");
    HandoffServer old = echoingServer(2).stateless(true).bind(socket);
    try (HandoffChannel proxy = HandoffChannel.connect(socket)) {
      List<SocketChannel> clients = handOver(proxy, CONNECTIONS, 1);
      for (SocketChannel client : clients) {
        assertEquals("before", echo(client, "before"));
      }
      IOException e = assertThrows(IOException.class, () -> echoingServer(1).stateless(true)
          .readiness(() -> {
            throw new IllegalStateException("its database cannot be reached");
          })
          .takeOver(socket));
      assertTrue(e.getMessage().contains("not ready") && e.getMessage().contains("database"),
          e.getMessage());
      assertOldAppServesEverything(socket, old, clients);
      for (SocketChannel client : clients) {
        client.close();
      }
    } finally {
      old.close();
    }
  }

  @Test
  void aSuccessorWhoseReadinessCheckNeverReturnsIsRolledBackAtTheOldAppsTimeout()
      throws Exception {
    Path socket = dir.resolve("app.sock");
    HandoffServer old = echoingServer(2).stateless(true).handOverTimeout(Duration.ofMillis(500))
        .bind(socket);
    CountDownLatch never = new CountDownLatch(1);
    AtomicBoolean interrupted = new AtomicBoolean();
    try (HandoffChannel proxy = HandoffChannel.connect(socket)) {
      List<SocketChannel> clients = handOver(proxy, CONNECTIONS, 1);
      IOException e = assertThrows(IOException.class, () -> echoingServer(1).stateless(true)
          .readiness(() -> {
            try {
              return never.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException stopped) {
              interrupted.set(true);
              throw stopped;
            }
          })
          .takeOver(socket));
      assertTrue(e.getMessage().contains("before it committed"), e.getMessage());
      assertOldAppServesEverything(socket, old, clients);
      Await.until(Duration.ofSeconds(10), interrupted::get,
          () -> "the check still running is interrupted once the take-over is over");
      for (SocketChannel client : clients) {
        client.close();
      }
    } finally {
      old.close();
    }
  }

  /**
   * While the check runs, the old app serves every connection and has paused none; once it
   * returns, everything moves and the take-over commits.
   */
  @Test
  void aReadySuccessorCommitsAndTheOldAppServedEverythingWhileItsCheckRan() throws Exception {
    Path socket = dir.resolve("app.sock");
    HandoffServer old = echoingServer(2).stateless(true).bind(socket);
    HandoffServer successor = null;
    AtomicInteger servedDuringCheck = new AtomicInteger();
    try (HandoffChannel proxy = HandoffChannel.connect(socket)) {
      List<SocketChannel> clients = handOver(proxy, CONNECTIONS, 1);
      successor = echoingServer(1).stateless(true).readiness(() -> {
        assertFalse(old.handedOver().toCompletableFuture().isDone());
        for (SocketChannel client : clients) {
          if ("during".equals(echo(client, "during"))) {
            servedDuringCheck.incrementAndGet();
          }
        }
        assertEquals(CONNECTIONS, old.liveConnections(), "the old app paused none");
        return null;
      }).takeOver(socket);
      old.handedOver().toCompletableFuture().get(20, TimeUnit.SECONDS);
      assertEquals(CONNECTIONS, servedDuringCheck.get(), "the old app served each during it");
      assertEquals(CONNECTIONS, successor.liveConnections());
      for (SocketChannel client : clients) {
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
