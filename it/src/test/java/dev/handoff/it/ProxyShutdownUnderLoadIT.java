package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.Socket;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * SIGTERM to a proxy under load, then a new proxy. The proxy closing its own
 * links at shutdown must neither re-link nor send anything again, so no connection is adopted on
 * two descriptors.
 */
@Timeout(120)
class ProxyShutdownUnderLoadIT extends DaemonTest {
  private static final Pattern ADOPTED = Pattern.compile("(c\\d+ \\S+ -> \\S+)(?: fd \\d+)?: adopted");
  private static final Pattern COUNTER = Pattern.compile("(\\w[\\w-]*)=(\\d+)");

  @Test
  void proxySigtermUnderLoadNeverAdoptsAConnectionTwice() throws Exception {
    Daemon app = daemons.app(socket, "--log-level", "DEBUG");
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicInteger served = new AtomicInteger();
    ExecutorService clients = Executors.newFixedThreadPool(8);
    Thread load = new Thread(() -> {
      // about 30 new connections a second, each echoing one line and holding on for a while
      for (int i = 0; running.get(); i++) {
        int n = i;
        clients.submit(() -> {
          try (Socket s = EchoClient.connect(port)) {
            s.setSoTimeout(5_000);
            EchoClient.assertEchoes(s, ("client " + n + "\n").getBytes());
            served.incrementAndGet();
            Thread.sleep(200);
          } catch (IOException | InterruptedException | AssertionError e) {
            // refused while no proxy listens, or closed by a proxy shutting down: allowed here
          }
          return null;
        });
        Daemon.sleep(33);
      }
    }, "load");
    try {
      Daemon proxy = daemons.proxy(port, socket, "--shutdown-grace", "1s");
      load.start();
      for (int round = 0; round < 3; round++) {
        int before = served.get();
        Daemon.await("the proxy of round " + round + " serves new connections",
            Duration.ofSeconds(60), () -> served.get() >= before + 20);
        boolean frozen = round == 1;
        if (frozen) {
          // Handoffs in flight when the proxy gives up at the end of its grace period: they sit
          // in the frozen app's socket buffer, and the app takes them once it runs again.
          app.signal("STOP");
          Daemon.sleep(300);
        }
        proxy.terminate();
        assertEquals(0, proxy.awaitExit(Duration.ofSeconds(15)), proxy.log());
        if (frozen) {
          app.signal("CONT");
        }
        String log = proxy.log();
        if (frozen) {
          assertTrue(log.contains("closed by the proxy (the proxy is shutting down) with"),
              "handoffs were in flight at the end of the grace period:\n" + log);
        }
        assertFalse(log.contains("for unknown connection"), "an answer for a connection the"
            + " proxy had already given up or sent again:\n" + log);
        assertFalse(log.contains("will be sent again") || log.contains("sent again"),
            "nothing is sent again at shutdown:\n" + log);
        assertFalse(log.contains("closed by the app"), "the proxy closed its links itself:\n"
            + log);
        assertEndsOnce(log);
        proxy = daemons.proxy(port, socket, "--shutdown-grace", "1s");
      }
      int last = served.get();
      Daemon.await("the last proxy serves new connections", Duration.ofSeconds(60),
          () -> served.get() >= last + 10);
      running.set(false);
      load.join();
      clients.shutdown();
      assertTrue(clients.awaitTermination(20, TimeUnit.SECONDS));
      assertEndsOnce(proxy.stopAndLog());
    } finally {
      running.set(false);
      clients.shutdownNow();
    }
    assertTrue(served.get() > 50, "clients were served throughout: " + served.get());
    Map<String, Integer> adoptions = new HashMap<>();
    Matcher m = ADOPTED.matcher(app.log());
    while (m.find()) {
      adoptions.merge(m.group(1), 1, Integer::sum);
    }
    assertTrue(adoptions.size() > 50, "the app logs each adoption at DEBUG: " + adoptions.size()
        + " adopted, " + served.get() + " served");
    adoptions.values().removeIf(count -> count == 1);
    assertEquals(Map.of(), adoptions, "connections the app adopted more than once");
  }

  /** The proxy's last line: every connection it accepted ended once, and none was sent twice. */
  private static void assertEndsOnce(String log) {
    String stopped = log.substring(log.lastIndexOf("stopped: "));
    Map<String, Long> c = new HashMap<>();
    Matcher m = COUNTER.matcher(stopped);
    while (m.find()) {
      c.put(m.group(1), Long.parseLong(m.group(2)));
    }
    long ends = c.get("handed-off") + c.get("rejected-by-app") + c.get("dropped-expired")
        + c.get("dropped-at-shutdown") + c.get("unacknowledged");
    assertEquals(c.get("accepted"), ends, "each accepted connection ends once: " + stopped
        + "\nthe proxy's shutdown lines:\n" + log.lines()
            .filter(l -> l.contains("shutting down") || l.contains("unanswered")
                || l.contains("may own") || l.contains("settling") || l.contains("stopped: "))
            .collect(java.util.stream.Collectors.joining("\n")));
    assertTrue(c.get("sent") <= c.get("accepted") + c.get("retried"),
        "sent more often than accepted and retried: " + stopped);
    assertEquals(0, c.get("resent"), stopped);
  }
}
