package dev.handoff.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Acknowledgement.Status;
import dev.handoff.common.HandoffChannel;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.ReceivedHandoff;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * The successor's side of the take-over request, against a real unix socket standing in for the
 * old app, which answers what a real one answers in each race between two successors.
 */
@Timeout(30)
class SuccessorTest {
  @TempDir Path dir;

  /**
   * What the successor makes of the old app's one answer to its TAKEOVER request.
   *
   * @return the error the request failed with
   */
  private IOException refusedWith(Status answer) throws Exception {
    Path socket = dir.resolve("app.sock");
    try (AFUNIXServerSocketChannel listener = AFUNIXServerSocketChannel.open()) {
      listener.bind(AFUNIXSocketAddress.of(socket));
      CompletableFuture<HandoffHeader> asked = CompletableFuture.supplyAsync(() -> {
        try (HandoffChannel oldApp = HandoffChannel.accepted(listener.accept(), "successor");
            ReceivedHandoff request = oldApp.receive()) {
          oldApp.sendAck(new Acknowledgement(0, answer));
          oldApp.awaitEnd();
          return request.header();
        } catch (IOException e) {
          throw new IllegalStateException(e);
        }
      });
      IOException e = assertThrows(IOException.class,
          () -> Successor.requestTakeOver(socket, Duration.ofSeconds(10)));
      assertEquals(HandoffHeader.Kind.TAKEOVER, asked.get(10, TimeUnit.SECONDS).kind());
      return e;
    }
  }

  /**
   * CI, stop 16: the second of two successors started together was accepted by the old app just
   * before that app began handing over to the first, and got the CLOSING every link gets. It
   * failed as "did not agree to hand over (CLOSING)", without the advice the other lost races
   * give.
   */
  @Test
  void aSuccessorAnsweredClosingLostARaceAndSaysSo() throws Exception {
    IOException e = refusedWith(Status.CLOSING);
    assertTrue(e.getMessage().contains("is closing"), e.getMessage());
    assertTrue(e.getMessage().contains(Successor.ANOTHER), e.getMessage());
  }

  @Test
  void aSuccessorRefusedBecauseATakeOverIsUnderWaySaysSo() throws Exception {
    IOException e = refusedWith(Status.REJECTED);
    assertTrue(e.getMessage().contains("already being taken over"), e.getMessage());
  }

  @Test
  void anAnswerOutsideTheProtocolIsNamed() throws Exception {
    IOException e = refusedWith(Status.RETRY);
    assertTrue(e.getMessage().contains("did not agree to hand over (RETRY)"), e.getMessage());
  }
}
