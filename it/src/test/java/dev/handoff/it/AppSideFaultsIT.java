package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Faults on the app's side, with the real proxy and app: a stopped app, clients that reset. */
@Timeout(180)
class AppSideFaultsIT extends DaemonTest {

  /**
   * The only app stopped past the proxy's ack timeout. The proxy gives up on the link
   * and leaves the connections it sent to the app; once the app resumes it serves every one of
   * them, although it can no longer acknowledge them.
   */
  @Test
  void connectionsLeftToAStoppedAppAreServedWhenItResumes() throws Exception {
    Daemon app = daemons.app(socket);
    Daemon proxy = daemons.proxy(port, socket, "--ack-timeout", "2s");
    EchoClient.echoOnce(port, "warm".getBytes()); // linked
    app.signal("STOP");
    try (ClientGroup clients = new ClientGroup(port, 20, 30_000)) {
      proxy.awaitLog("the proxy closes the link", Duration.ofSeconds(20));
      proxy.awaitLog("closed by the proxy", Duration.ofSeconds(20)); // its handoffs left to the app
      app.signal("CONT");
      clients.assertAllServed(20);
    } finally {
      if (app.isAlive()) {
        app.signal("CONT");
      }
    }
    assertTrue(app.isAlive(), app.log());
  }

  /**
   * 2,000 clients that connect and reset (SO_LINGER 0) within 0-20 ms, half of them
   * after sending a few bytes. None stays live in the app, neither daemon logs a warning for a
   * client that went away, and the app then stops at once instead of waiting out its drain.
   */
  @Test
  void clientsThatResetAroundTheHandoffLeaveNothingBehind() throws Exception {
    Daemon app = daemons.app(socket, "--drain-timeout", "30s");
    Daemon proxy = daemons.proxy(port, socket);
    EchoClient.echoOnce(port, "warm".getBytes());
    long seed = Long.getLong("handoff.seed", System.nanoTime());
    System.out.println("AppSideFaultsIT.clientsThatReset seed=" + seed);
    ExecutorService pool = Executors.newFixedThreadPool(40);
    try {
      List<Future<?>> runs = new ArrayList<>();
      for (int t = 0; t < 40; t++) {
        Random random = new Random(seed + t);
        runs.add(pool.submit(() -> {
          for (int i = 0; i < 50; i++) {
            Socket s = new Socket();
            s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            if (random.nextBoolean()) {
              s.getOutputStream().write("bye".getBytes());
            }
            int wait = random.nextInt(21);
            if (wait > 0) {
              Thread.sleep(wait); // the scenario: a reset 0-20 ms into the connection
            }
            s.setSoLinger(true, 0);
            s.close(); // RST
          }
          return null;
        }));
      }
      for (Future<?> run : runs) {
        run.get(120, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    EchoClient.echoOnce(port, "still serving".getBytes());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    int live;
    do {
      Daemon.sleep(500);
      live = app.liveConnections();
    } while (live != 0 && System.nanoTime() < deadline);
    assertEquals(0, live, "no connection stays live in the app:\n" + app.log());
    String proxyLog = proxy.log(); // before the app stops: then the proxy rightly warns of it
    long start = System.nanoTime();
    String appLog = app.stopAndLog();
    long stopMillis = (System.nanoTime() - start) / 1_000_000;
    assertTrue(stopMillis < 10_000, "the app stops without waiting out its drain: " + stopMillis
        + " ms");
    assertEquals(List.of(), warnings(appLog), "the app warns of nothing");
    assertEquals(List.of(), warnings(proxyLog), "the proxy warns of nothing");
  }

  private static List<String> warnings(String log) {
    List<String> lines = new ArrayList<>();
    for (String line : log.split("\n")) {
      if (line.contains(" WARN ") || line.contains(" ERROR ")) {
        lines.add(line);
      }
    }
    return lines.size() > 5 ? lines.subList(0, 5) : lines;
  }
}
