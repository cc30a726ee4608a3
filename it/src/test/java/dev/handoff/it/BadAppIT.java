package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Acknowledgement.Status;
import dev.handoff.common.ReceivedHandoff;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The proxy against apps that answer wrongly or not at all: it survives and leaks nothing. */
@Timeout(120)
class BadAppIT extends DaemonTest {
  private final List<ReceivedHandoff> kept = new ArrayList<>();

  @AfterEach
  void tearDown() throws Exception {
    kept.forEach(ReceivedHandoff::close);
  }

  private static String readLine(Socket s) throws IOException {
    StringBuilder line = new StringBuilder();
    InputStream in = s.getInputStream();
    for (int c = in.read(); c != '\n' && c >= 0; c = in.read()) {
      line.append((char) c);
    }
    return line.toString();
  }

  private static String stopped(Daemon proxy) throws InterruptedException {
    return proxy.stopAndLog();
  }

  @Test
  void anAppThatNeverAnswersLosesItsLinkAndTheProxyKeepsNoCopy() throws Exception {
    try (FakeApp fake = new FakeApp(socket, (n, handoff, link, raw) -> {
      if (n == 0) {
        return FakeApp.serveOneLine(handoff, link, "warm");
      }
      kept.add(handoff); // holds the connection and never answers
      return true;
    })) {
      Daemon proxy = daemons.proxy(port, socket, "--ack-timeout", "1s");
      try (Socket warm = EchoClient.connect(port)) {
        assertEquals("warm", readLine(warm));
      }
      int baseline = proxy.settledFds();
      try (Socket s = EchoClient.connect(port)) {
        proxy.awaitLog("has not answered", Duration.ofSeconds(10));
        assertEquals(baseline, proxy.awaitFds(baseline, Duration.ofSeconds(5)),
            "the proxy closed its copy of the unanswered connection and the dead link");
        assertTrue(proxy.isAlive());
      }
      String log = stopped(proxy);
      assertTrue(log.contains("unacknowledged=1"), log);
    }
  }

  @Test
  void unknownIdsAreIgnoredAndGarbageCostsOnlyTheLink() throws Exception {
    try (FakeApp fake = new FakeApp(socket, (n, handoff, link, raw) -> {
      if (n == 0) {
        return FakeApp.serveOneLine(handoff, link, "warm");
      }
      if (n == 1) {
        link.sendAck(new Acknowledgement(424242, Status.ADOPTED));
        FakeApp.writeRaw(raw, "garbage garbage!");
        handoff.close();
        return false; // the proxy closes this link; it cannot know what the app kept
      }
      return FakeApp.serveOneLine(handoff, link, "linked again");
    })) {
      Daemon proxy = daemons.proxy(port, socket);
      try (Socket warm = EchoClient.connect(port)) {
        assertEquals("warm", readLine(warm));
      }
      int baseline = proxy.settledFds();
      try (Socket s = EchoClient.connect(port)) {
        assertEquals(-1, s.getInputStream().read(), "after garbage on its link, the unanswered"
            + " connection is left to the app (which closed it here), never sent again");
      }
      try (Socket s = EchoClient.connect(port)) {
        assertEquals("linked again", readLine(s), "the proxy linked again");
      }
      assertEquals(baseline, proxy.awaitFds(baseline, Duration.ofSeconds(5)));
      String log = proxy.log();
      assertTrue(log.contains("unknown connection c424242"), log);
      assertTrue(log.contains("bad acknowledgement magic"), log);
      assertTrue(log.contains("closed by the proxy (not an acknowledgement"), log);
      String stats = stopped(proxy);
      assertTrue(stats.contains("handed-off=2") && stats.contains("resent=0")
          && stats.contains("unacknowledged=1") && stats.contains("unknown-acks=1"), stats);
    }
  }

  @Test
  void anAppThatRejectsGetsTheCopyClosed() throws Exception {
    try (FakeApp fake = new FakeApp(socket, (n, handoff, link, raw) -> {
      link.sendAck(new Acknowledgement(handoff.header().connectionId(), Status.REJECTED));
      handoff.close();
      return true;
    })) {
      Daemon proxy = daemons.proxy(port, socket);
      try (Socket s = EchoClient.connect(port)) {
        assertEquals(-1, s.getInputStream().read(), "a rejected client is closed, not left open");
      }
      assertTrue(stopped(proxy).contains("rejected-by-app=1"));
    }
  }
}
