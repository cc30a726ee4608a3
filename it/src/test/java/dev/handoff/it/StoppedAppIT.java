package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The only app SIGSTOPped past the ack timeout. The proxy closes the link and
 * says so, leaves the unanswered connections to the app, and does not pour more handoffs into the
 * stopped app when it links again: one probe until the app answers.
 */
@Timeout(120)
class StoppedAppIT extends DaemonTest {
  /** The count of unanswered handoffs a link ended with, in this and the old wording. */
  private static final Pattern UNANSWERED = Pattern.compile(
      "with (\\d+) handoffs unanswered|(\\d+) unanswered connections");

  @Test
  void aStoppedAppGetsNoRelinkBurstAndTheLogSaysTheProxyClosedTheLink()
      throws Exception {
    Daemon app = daemons.app(socket);
    Daemon proxy = daemons.proxy(port, socket, "--ack-timeout", "2s", "--retry-max", "1s");
    EchoClient.echoOnce(port, "warm\n".getBytes());
    app.signal("STOP");
    int laterServed;
    try (ClientGroup first = new ClientGroup(port, 20, 30_000)) {
      proxy.awaitLog("has not answered", Duration.ofSeconds(10));
      // More clients while the app is still stopped: the proxy must not hand them to it in bulk.
      try (ClientGroup later = new ClientGroup(port, 20, 30_000)) {
        Daemon.sleep(6_000); // three more ack timeouts
        app.signal("CONT");
        // Each probe that timed out is left to the app like the first 20 (whether the app still
        // serves those once resumed is the app's business); every other one is served.
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (later.served() < 20 - probes(proxy.log()) - sentAsClosed(proxy.log())
            && System.nanoTime() < deadline) {
          Daemon.sleep(100);
        }
        laterServed = later.served();
      }
    }
    EchoClient.echoOnce(port, "after\n".getBytes());
    String log = proxy.stopAndLog();
    assertTrue(laterServed >= 20 - probes(log) - sentAsClosed(log),
        laterServed + " served\n" + log);
    assertFalse(log.contains("closed by the app"), "nobody but the proxy closed a link:\n" + log);
    assertTrue(log.matches("(?s).*has not answered it for \\d+ ms; the proxy closes the link.*"),
        log);
    assertTrue(log.contains("closed by the proxy (no answer to c"), log);
    List<Integer> counts = new ArrayList<>();
    Matcher m = UNANSWERED.matcher(log);
    while (m.find()) {
      counts.add(Integer.parseInt(m.group(1) != null ? m.group(1) : m.group(2)));
    }
    assertTrue(counts.size() >= 2, "the stopped app timed out on its re-link too: " + counts
        + "\n" + log);
    assertTrue(counts.get(0) > 1, "the first link had the first clients: " + counts);
    for (int n : counts.subList(1, counts.size())) {
      assertTrue(n <= 1, "a re-linked stopped app got more than one probe: " + counts + "\n"
          + log);
    }
    int leftToApp = counts.get(0) + probes(log) + sentAsClosed(log);
    assertTrue(log.contains("unacknowledged=" + leftToApp), log);
  }

  /**
   * Handoffs sent while the proxy was closing the link (the acceptor's send raced the close):
   * the message may have left, so they are left to the app too, one log line each.
   */
  private static int sentAsClosed(String log) {
    int n = 0;
    for (int i = log.indexOf("the app may own it, so it is not sent again"); i >= 0;
        i = log.indexOf("the app may own it, so it is not sent again", i + 1)) {
      n++;
    }
    return n;
  }

  /** Handoffs left to the app on links after the first: at most one probe each. */
  private static int probes(String log) {
    int n = 0;
    boolean first = true;
    Matcher m = UNANSWERED.matcher(log);
    while (m.find()) {
      if (!first) {
        n += Integer.parseInt(m.group(1) != null ? m.group(1) : m.group(2));
      }
      first = false;
    }
    return n;
  }
}
