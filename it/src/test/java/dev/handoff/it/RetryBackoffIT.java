package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Acknowledgement.Status;
import java.io.InputStream;
import java.net.Socket;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Handoffs answered RETRY: the proxy backs off instead of resending in a busy loop, keeps them
 * until the app has room, and closes them at {@code --queue-wait} as docs/CLI.md says.
 */
@Timeout(120)
class RetryBackoffIT extends DaemonTest {
  private static long counter(String log, String name) {
    Matcher m = Pattern.compile("stopped: .*\\b" + name + "=(\\d+)").matcher(log);
    assertTrue(m.find(), log);
    return Long.parseLong(m.group(1));
  }

  private static String readLine(Socket s) throws Exception {
    StringBuilder line = new StringBuilder();
    InputStream in = s.getInputStream();
    for (int c = in.read(); c != '\n' && c >= 0; c = in.read()) {
      line.append((char) c);
    }
    return line.toString();
  }

  @Test
  void retryBackoff_anAppOutOfRoomIsNotFloodedAndEveryoneIsServedOnceItHasRoom()
      throws Exception {
    // Out of room for 3 s from the first handoff (not from the test's start: a slow start of the
    // proxy on a loaded machine must not use the 3 s up).
    java.util.concurrent.atomic.AtomicLong roomAt = new java.util.concurrent.atomic.AtomicLong();
    try (FakeApp fake = new FakeApp(socket, (n, handoff, link, raw) -> {
      roomAt.compareAndSet(0, System.nanoTime() + 3_000_000_000L);
      if (System.nanoTime() - roomAt.get() < 0) {
        link.sendAck(new Acknowledgement(handoff.header().connectionId(), Status.RETRY));
        handoff.close();
        return true;
      }
      return FakeApp.serveOneLine(handoff, link, "served");
    })) {
      Daemon proxy = daemons.proxy(port, socket, "--queue-wait", "30s", "--retry-max", "1s");
      Socket[] clients = new Socket[10];
      for (int i = 0; i < clients.length; i++) {
        clients[i] = EchoClient.connect(port);
      }
      for (Socket s : clients) {
        try (s) {
          assertEquals("served", readLine(s));
        }
      }
      String log = proxy.stopAndLog();
      long retried = counter(log, "retried");
      // Resent every 100 ms each, as before, that would be about 300 in 3 s.
      assertTrue(retried >= 1 && retried <= 30, "RETRY answers back the link off: " + retried
          + "\n" + log);
      assertEquals(10, counter(log, "handed-off"), log);
      assertEquals(0, counter(log, "dropped-expired"), log);
    }
  }

  @Test
  void retryBackoff_aConnectionAnsweredRetryIsClosedAtQueueWait() throws Exception {
    try (FakeApp fake = new FakeApp(socket, (n, handoff, link, raw) -> {
      link.sendAck(new Acknowledgement(handoff.header().connectionId(), Status.RETRY));
      handoff.close();
      return true;
    })) {
      Daemon proxy = daemons.proxy(port, socket, "--queue-wait", "2s");
      long start = System.nanoTime();
      try (Socket s = EchoClient.connect(port)) {
        assertEquals(-1, s.getInputStream().read(), "closed once its wait is over");
      }
      long waitedMs = (System.nanoTime() - start) / 1_000_000;
      assertTrue(waitedMs >= 1_500 && waitedMs < 6_000, "closed at --queue-wait: " + waitedMs);
      String log = proxy.stopAndLog();
      assertEquals(1, counter(log, "dropped-expired"), log);
      assertTrue(counter(log, "retried") <= 10, log);
    }
  }
}
