package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A real {@code app --take-over} killed with SIGKILL at many moments of a two-phase move of
 * thousands of connections (docs/PROTOCOL.md, "Taking over from a running app"): before COMMIT
 * the old app loses no client and no byte, binds the path again and serves new connections,
 * including those the proxy had sent to the successor; after COMMIT the clients went with the
 * successor and the old app has exited 0.
 */
@Timeout(300)
class TakeOverKillIT extends DaemonTest {
  /** Idle clients, held through the proxy: the move copies every one of them. */
  private static final int IDLE = 2_000;
  private static final int PINGERS = 20;
  private static final String ASKS = "asks to take over";
  private static final String ROLLED_BACK = "serving everything here again";
  private static final Pattern HANDED = Pattern.compile(
      "take-over committed: handed (\\d+) connections over");

  /**
   * When a successor is killed: after a line of a log (the old app's, or the successor's own),
   * or after a delay from the successor's start, plus {@code extraMs}.
   */
  private record Moment(String name, boolean oldAppLog, String line, long extraMs) {
    static Moment oldApp(String name, String line, long extraMs) {
      return new Moment(name, true, line, extraMs);
    }

    static Moment successor(String name, String line, long extraMs) {
      return new Moment(name, false, line, extraMs);
    }

    static Moment fromStart(long ms) {
      return new Moment(ms + " ms after its start", false, null, ms);
    }

    @Override
    public String toString() {
      return line == null ? name : name + " (+" + extraMs + " ms)";
    }
  }

  /** One old app and its clients: idle ones, and optionally ping-pongs and a stream. */
  private final class Generation implements AutoCloseable {
    final Daemon app;
    final List<Socket> idle = new ArrayList<>();
    UpgradeLoad load;
    Future<Long> stream;
    private int echoRound;

    Generation(boolean withLoad) throws Exception {
      app = daemons.app(socket, "--drain-timeout", "1s");
      connectIdle(idle, IDLE);
      echoIdle();
      if (withLoad) {
        load = new UpgradeLoad();
        load.pingPong(port, PINGERS);
        stream = load.stream(port, 1L << 30); // ended by finishLoad, long before 1 GiB
      }
    }

    /** Every idle client sends a line of its own and gets exactly it back. */
    void echoIdle() throws IOException {
      int round = echoRound++;
      byte[][] lines = new byte[idle.size()][];
      for (int i = 0; i < idle.size(); i++) {
        lines[i] = ("round " + round + " client " + i + "\n").getBytes(StandardCharsets.US_ASCII);
        idle.get(i).getOutputStream().write(lines[i]);
      }
      for (int i = 0; i < idle.size(); i++) {
        assertArrayEquals(lines[i], EchoClient.readExactly(idle.get(i).getInputStream(),
            lines[i].length), "idle client " + i + " in round " + round);
      }
    }

    int live() {
      return idle.size() + (load != null ? PINGERS + 1 : 0);
    }

    /** Stops the ping-pongs and the stream, requiring every byte of both back. */
    String finishLoad() throws Exception {
      load.finish(); // ends the stream too: its end comes back after its last byte
      long streamed = stream.get(30, TimeUnit.SECONDS);
      assertEquals(List.of(), new ArrayList<>(load.failures), "ping-pongs and stream");
      assertTrue(load.pingPongs.get() > 0, "ping-pongs ran");
      String done = load.pingPongs.get() + " ping-pongs, " + streamed + " bytes streamed";
      load.close();
      load = null;
      return done;
    }

    @Override
    public void close() throws IOException {
      if (load != null) {
        load.close();
      }
      for (Socket s : idle) {
        s.close();
      }
    }
  }

  /**
   * 2,000 idle clients, 20 ping-ponging and one stream through the proxy, and the successor
   * killed at 12 moments from its start to just after COMMIT (two while its JVM starts, six at
   * lines of the logs, four at delays after the old app read its request) (schedule and delays from a printed
   * seed): each kill before COMMIT leaves every client served by the old app with every byte, the
   * path bound again and new connections served; the kill after COMMIT finds the old app exited
   * 0, having handed every connection over, and its clients gone with the successor.
   */
  @Test
  void aSuccessorKilledBeforeCommitLosesNoClientAndAfterCommitTookThemAll() throws Exception {
    long seed = Long.getLong("handoff.seed", System.nanoTime());
    System.out.println("TakeOverKillIT seed=" + seed + " (rerun with -Dhandoff.seed=" + seed + ")");
    Random random = new Random(seed);
    List<Moment> moments = new ArrayList<>(List.of(
        Moment.fromStart(random.nextInt(300)), // its JVM starting
        Moment.fromStart(600 + random.nextInt(600)),
        Moment.oldApp("the old app read its request", ASKS, 0),
        Moment.oldApp("it bound the path", "has bound the socket path", 0),
        Moment.successor("it began holding copies", "bound the socket path", 0),
        Moment.successor("while it holds copies", "bound the socket path",
            20 + random.nextInt(100)),
        Moment.successor("between the switch and COMMIT", "switched:", 0)));
    for (int i = 0; i < 4; i++) { // over the move (2,021 connections: about 0.8 s here)
      moments.add(Moment.oldApp("during the move", ASKS, 30 + i * 170 + random.nextInt(170)));
    }
    java.util.Collections.shuffle(moments, random);
    moments.add(Moment.successor("right after COMMIT", "take-over committed", 0));
    System.out.println("TakeOverKillIT schedule: " + moments);

    daemons.proxy(port, socket, "--retry-max", "200ms");
    long began = System.nanoTime();
    Generation gen = new Generation(true);
    int kept = 0;
    int committed = 0;
    List<String> outcomes = new ArrayList<>();
    try {
      for (int m = 0; m < moments.size(); m++) {
        Moment moment = moments.get(m);
        boolean last = m == moments.size() - 1;
        if (last && gen.load != null) {
          // Its clients go with the killed successor: the load ends, and is checked, first.
          outcomes.add("load: " + gen.finishLoad());
        }
        int seen = moment.oldAppLog() ? Daemon.count(gen.app.log(), moment.line()) : 0;
        Daemon next = daemons.start("app", "--take-over", socket.toString());
        long start = System.nanoTime();
        boolean reached = reach(moment, gen.app, next, seen);
        long killedAt = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        next.kill();
        awaitSettled(gen.app);
        if (gen.app.isAlive()) {
          assertTrue(!last, "the kill right after COMMIT found the old app still up:\n"
              + gen.app.log());
          assertOldAppServesEverything(gen, moment);
          kept++;
          outcomes.add(moment + ": killed at " + killedAt + " ms, " + (reached ? "" : "moment"
              + " not reached, ") + "old app kept all " + gen.live());
        } else {
          assertHandedEverythingOver(gen, moment);
          committed++;
          outcomes.add(moment + ": killed at " + killedAt + " ms, after COMMIT");
          gen.close();
          if (!last) {
            gen = new Generation(true);
          }
        }
      }
    } finally {
      gen.close();
      System.out.println("TakeOverKillIT outcomes:\n  " + String.join("\n  ", outcomes));
    }
    System.out.printf("TakeOverKillIT: %d kills, %d before COMMIT (nothing lost), %d after;"
        + " %d s%n", moments.size(), kept, committed,
        TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - began));
    assertTrue(kept >= moments.size() / 2, "most kills come before COMMIT: " + outcomes);
    assertTrue(committed >= 1, "the last kill comes after COMMIT: " + outcomes);
  }

  /**
   * Waits for the moment to kill the successor at ({@code before}: how many times the old app had
   * logged the moment's line when the successor started); returns false if the successor exited first or
   * the line never came (the take-over ended otherwise), in which case it is killed anyway.
   */
  private static boolean reach(Moment moment, Daemon old, Daemon next, int before) {
    if (moment.line() != null) {
      Daemon watched = moment.oldAppLog() ? old : next;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (Daemon.count(watched.log(), moment.line()) <= before) {
        if (!next.isAlive() || System.nanoTime() > deadline) {
          return false;
        }
        Daemon.sleep(5);
      }
    }
    if (moment.extraMs() > 0) {
      Daemon.sleep(moment.extraMs()); // the kill's moment, drawn from the seed: not a wait
    }
    return true;
  }

  /**
   * After a kill: the old app has exited (it had committed), or every take-over request it read
   * has been rolled back and the path is bound again.
   */
  private void awaitSettled(Daemon app) {
    Daemon.await("the old app settles: exited, or rolled back every take-over and bound the"
        + " path", Duration.ofSeconds(30), () -> !app.isAlive()
        || (Daemon.count(app.log(), ASKS) == Daemon.count(app.log(), ROLLED_BACK)
            && Files.exists(socket)));
  }

  private void assertOldAppServesEverything(Generation gen, Moment moment) throws Exception {
    String at = " after a kill " + moment;
    gen.echoIdle();
    for (int i = 0; i < 5; i++) {
      EchoClient.echoOnce(port, ("new " + i + at).getBytes(StandardCharsets.US_ASCII));
    }
    if (gen.load != null) {
      assertEquals(List.of(), new ArrayList<>(gen.load.failures), "ping-pongs and stream" + at);
      long pings = gen.load.pingPongs.get();
      Daemon.await("ping-pongs go on" + at, Duration.ofSeconds(10),
          () -> gen.load.pingPongs.get() > pings + PINGERS);
    }
    awaitSettled(gen.app); // a request read late (the successor was killed as it sent it)
    assertTrue(gen.app.isAlive(), "the old app stays up" + at + ":\n" + gen.app.log());
  }

  private void assertHandedEverythingOver(Generation gen, Moment moment) throws Exception {
    assertEquals(0, gen.app.awaitExit(Duration.ofSeconds(5)), gen.app.log());
    Matcher handed = HANDED.matcher(gen.app.log());
    assertTrue(handed.find(), "the old app exits only after COMMIT:\n" + gen.app.log());
    assertEquals(gen.live(), Integer.parseInt(handed.group(1)),
        "every live connection was handed over" + " (kill " + moment + "):\n" + gen.app.log());
    // The clients went with the successor, as designed: each sees its connection end.
    for (int i = 0; i < gen.idle.size(); i++) {
      assertTrue(ended(gen.idle.get(i)), "idle client " + i + " still open after its app died");
    }
  }

  /** Whether the connection ends (end of stream or reset) within the socket's timeout. */
  private static boolean ended(Socket s) throws IOException {
    try {
      return s.getInputStream().read() < 0;
    } catch (SocketException reset) {
      return true;
    }
  }

  /**
   * Connections the proxy accepts while the successor holds the path and has not committed go
   * to the successor, which does not accept the proxy's link before COMMIT: killed then, it never
   * answers them, the link ends, and the proxy sends them again, to the old app, which serves
   * them. The successor is stopped (SIGSTOP) while it holds copies, to hold that window open.
   */
  @Test
  void connectionsSentToTheSuccessorBeforeItsCommitAreServedByTheOldAppWhenItIsKilled()
      throws Exception {
    int metrics = EchoClient.freePort();
    Daemon proxy = daemons.proxy(port, socket, "--retry-max", "200ms", "--metrics",
        "127.0.0.1:" + metrics);
    long began = System.nanoTime();
    try (Generation gen = new Generation(false)) {
      int linked = Daemon.count(proxy.log(), "linked to app at");
      Daemon next = daemons.start("app", "--take-over", socket.toString());
      next.awaitLog("bound the socket path", Duration.ofSeconds(60));
      next.signal("STOP");
      assertTrue(!gen.app.log().contains("prepared ") && gen.app.isAlive(),
          "the successor was stopped before it answered the switch:\n" + gen.app.log());
      // The proxy, told CLOSING by the old app, links to the path again: to the successor's
      // listening socket, which queues the link without accepting it.
      proxy.awaitCount("linked to app at", linked + 1, Duration.ofSeconds(20));
      int clients = 20;
      try (ClientGroup during = new ClientGroup(port, clients, 60_000)) {
        Daemon.await("the proxy sent the " + clients + " new connections to the successor",
            Duration.ofSeconds(20), () -> metric(metrics, "handoff_proxy_handoffs_in_flight")
                >= clients);
        assertEquals(0, during.served(), "none is served before the kill");
        next.kill();
        gen.app.awaitLog(ROLLED_BACK, Duration.ofSeconds(30));
        during.assertAllServed(30);
      }
      proxy.awaitLog("handoffs unanswered; the app answers every one it keeps before it closes,"
          + " so they are sent again", Duration.ofSeconds(5));
      assertTrue(metric(metrics, "handoff_proxy_handoffs_resent_total") >= clients,
          proxy.log());
      gen.echoIdle();
      assertTrue(gen.app.isAlive(), gen.app.log());
      EchoClient.echoOnce(port, "new after the kill".getBytes(StandardCharsets.US_ASCII));
    }
    System.out.printf("TakeOverKillIT: connections sent to a successor killed before COMMIT:"
        + " %d s%n", TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - began));
  }

  /** Connects {@code n} clients through the proxy. */
  private void connectIdle(List<Socket> into, int n) throws IOException {
    for (int i = 0; i < n; i++) {
      Socket s = EchoClient.connect(port);
      s.setSoTimeout(30_000);
      into.add(s);
    }
  }

  private static final HttpClient HTTP = HttpClient.newHttpClient();

  /** One series of the proxy's Prometheus endpoint. */
  private static double metric(int metricsPort, String series) {
    try {
      String body = HTTP.send(HttpRequest.newBuilder(
          URI.create("http://127.0.0.1:" + metricsPort + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      return MetricsIT.value(body, series);
    } catch (IOException e) {
      throw new AssertionError("scraping the proxy's metrics", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }
}
