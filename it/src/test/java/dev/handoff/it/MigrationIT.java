package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAccumulator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Zero-downtime upgrades: 200 clients stream and check their echo without pause while the app
 * is replaced five times in a row with {@code app --take-over}. Every connection moves to the new
 * app with the bytes the old one had read and not echoed; no client may see an error, a lost or a
 * reordered byte. Reports the longest stall any client saw.
 */
@Timeout(300)
class MigrationIT {
  private static final int CLIENTS = 200;
  private static final int UPGRADES = 5;

  @TempDir Path dir;

  @Test
  void fiveUpgradesInARowWhile200ClientsStream(TestInfo test) throws Exception {
    Path socket = dir.resolve("pipe.sock");
    int port = EchoClient.freePort();
    AtomicBoolean running = new AtomicBoolean(true);
    ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
    LongAccumulator longestStallNanos = new LongAccumulator(Math::max, 0);
    AtomicLong roundTrips = new AtomicLong();
    AtomicLong bytes = new AtomicLong();
    try (DaemonSet daemons = new DaemonSet(test)) {
      Daemon app = daemons.app(socket);
      daemons.proxy(port, socket);
      List<Thread> clients = new ArrayList<>();
      for (int c = 0; c < CLIENTS; c++) {
        long seed = c;
        Socket s = EchoClient.connect(port);
        Thread t = new Thread(() -> stream(s, new Random(seed), running, errors,
            longestStallNanos, roundTrips, bytes), "client-" + c);
        t.setDaemon(true);
        t.start();
        clients.add(t);
      }
      Daemon.sleep(3000);
      long steadyStall = longestStallNanos.getThenReset();
      List<Long> upgradeMillis = new ArrayList<>();
      for (int u = 1; u <= UPGRADES; u++) {
        long start = System.nanoTime();
        Daemon next = daemons.start("app", "--take-over", socket.toString());
        assertEquals(0, app.awaitExit(Duration.ofSeconds(60)),
            "upgrade " + u + ": the old app exits 0\n" + app.log());
        next.awaitLog("for proxy links", Duration.ofSeconds(10));
        upgradeMillis.add((System.nanoTime() - start) / 1_000_000);
        assertTrue(app.log().contains("handed " + CLIENTS + " connections over"),
            "upgrade " + u + ": every connection moved\n" + app.log());
        // The successor sets logging up on a thread of its own while it reads its command line;
        // nothing may log through SLF4J's stand-in loggers meanwhile (SLF4J warns of each one).
        assertFalse(next.log().contains("SLF4J"),
            "upgrade " + u + ": logback alone wrote the new app's log\n" + next.log());
        app = next;
        Daemon.sleep(1000);
      }
      running.set(false);
      for (Thread t : clients) {
        t.join(30_000);
        assertFalse(t.isAlive(), t.getName() + " stops once told to");
      }
      assertTrue(errors.isEmpty(), errors.size() + " clients failed: " + errors);
      assertTrue(Files.exists(socket), "the socket path belongs to the last app");
      String report = "MigrationIT: " + UPGRADES + " upgrades under " + CLIENTS
          + " streaming clients; " + roundTrips.get() + " round trips, "
          + bytes.get() / (1 << 20) + " MiB echoed, 0 errors; upgrade wall times (ms, start of the"
          + " new app to the old one's exit) " + upgradeMillis + "; longest round trip any client"
          + " saw: " + longestStallNanos.get() / 1_000_000 + " ms during the upgrades, "
          + steadyStall / 1_000_000 + " ms in the 3 s of steady streaming before them";
      System.out.println(report);
      Files.writeString(Path.of("target", "migration-report.txt"), report + "\n",
          StandardCharsets.UTF_8);
    }
  }

  /**
   * Writes a chunk (1 B to 128 KiB) and reads it back in full, again and again, comparing every
   * byte. A stall is the longest time one round trip took.
   */
  private static void stream(Socket s, Random random, AtomicBoolean running,
      ConcurrentLinkedQueue<String> errors, LongAccumulator longestStall, AtomicLong roundTrips,
      AtomicLong bytes) {
    byte[] out = new byte[128 * 1024];
    byte[] in = new byte[out.length];
    try (s) {
      s.setSoTimeout(30_000);
      OutputStream os = s.getOutputStream();
      InputStream is = s.getInputStream();
      while (running.get()) {
        int n = 1 + random.nextInt(random.nextInt(8) == 0 ? out.length : 4096);
        random.nextBytes(out);
        long start = System.nanoTime();
        os.write(out, 0, n);
        int got = 0;
        while (got < n) {
          int r = is.read(in, got, n - got);
          if (r < 0) {
            throw new java.io.IOException("EOF after " + got + " of " + n);
          }
          got += r;
        }
        longestStall.accumulate(System.nanoTime() - start);
        if (!java.util.Arrays.equals(out, 0, n, in, 0, n)) {
          throw new java.io.IOException("echo differs from what was sent");
        }
        roundTrips.incrementAndGet();
        bytes.addAndGet(n);
      }
    } catch (Exception e) {
      errors.add(Thread.currentThread().getName() + ": " + e);
    }
  }
}
