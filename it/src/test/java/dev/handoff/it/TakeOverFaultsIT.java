package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.HandoffChannel;
import dev.handoff.common.HandoffHeader;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
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

/**
 * Take-overs that go wrong: whatever the successor does and whenever
 * it dies, the old app ends either serving everything, its socket path restored and proxies
 * re-linked, or having handed everything over; no client of it is cut.
 */
@Timeout(240)
class TakeOverFaultsIT extends DaemonTest {
  private static final int CLIENTS = 30;

  /** The successor asks and dies before reading the answer. */
  @Test
  void successorDyingBeforeTheAnswerLeavesTheOldAppServingEverything() throws Exception {
    Daemon app = daemons.app(socket, "--drain-timeout", "1s");
    daemons.proxy(port, socket, "--retry-max", "200ms");
    List<Socket> clients = connectServed(CLIENTS);
    try (HandoffChannel link = HandoffChannel.connect(socket, true)) {
      link.send(takeOverRequest(), null);
    }
    app.awaitLog("serving everything here again", Duration.ofSeconds(20));
    assertOldAppServesEverything(app, clients);
  }

  /** The successor dies right after reading ADOPTED, before it binds the path. */
  @Test
  void successorDyingAfterTheAnswerLeavesTheOldAppServingEverything() throws Exception {
    Daemon app = daemons.app(socket, "--drain-timeout", "1s");
    daemons.proxy(port, socket, "--retry-max", "200ms");
    List<Socket> clients = connectServed(CLIENTS);
    try (HandoffChannel link = HandoffChannel.connect(socket, true)) {
      link.send(takeOverRequest(), null);
      assertEquals(Acknowledgement.Status.ADOPTED, link.receiveAck().status());
    }
    app.awaitLog("serving everything here again", Duration.ofSeconds(20));
    assertOldAppServesEverything(app, clients);
  }

  /**
   * A successor that says it is ready, takes one connection and dies without answering: every
   * connection, the one in flight too, is served by the old app again, which binds the path anew.
   */
  @Test
  void successorDyingDuringTheMoveLeavesTheOldAppServingEverything() throws Exception {
    Daemon app = daemons.app(socket, "--drain-timeout", "1s");
    daemons.proxy(port, socket, "--retry-max", "200ms");
    List<Socket> clients = connectServed(CLIENTS);
    try (HandoffChannel link = HandoffChannel.connect(socket, true)) {
      link.send(takeOverRequest(), null);
      assertEquals(Acknowledgement.Status.ADOPTED, link.receiveAck().status());
      link.sendAck(new Acknowledgement(0, Acknowledgement.Status.ADOPTED)); // "bound, ready"
      try (var first = link.receive()) {
        assertEquals(HandoffHeader.Kind.MIGRATED, first.header().kind());
      }
    }
    app.awaitLog("serving everything here again", Duration.ofSeconds(20));
    assertOldAppServesEverything(app, clients);
  }

  /**
   * A real {@code app --take-over} killed with SIGKILL at several moments (printed seed): the old
   * app either keeps serving everything or has handed everything over before the kill.
   */
  @Test
  void successorKilledAtRandomMoments() throws Exception {
    long seed = Long.getLong("handoff.seed", System.nanoTime());
    System.out.println("TakeOverFaultsIT.successorKilledAtRandomMoments seed=" + seed
        + " (rerun with -Dhandoff.seed=" + seed + ")");
    Random random = new Random(seed);
    Daemon app = daemons.app(socket, "--drain-timeout", "1s");
    daemons.proxy(port, socket, "--retry-max", "200ms");
    List<Socket> clients = connectServed(CLIENTS);
    int kept = 0;
    int handedOver = 0;
    int logLength = 0;
    for (int round = 0; round < 3; round++) {
      int restoredBefore = count(app.log(), "serving everything here again");
      Daemon next = daemons.start("app", "--take-over", socket.toString());
      if (round == 0) {
        app.awaitLog("asks to take over", Duration.ofSeconds(60));
      } else {
        Daemon.sleep(500 + random.nextInt(3000)); // somewhere in JVM start-up or the exchange
      }
      next.kill();
      // Either the old app finished the hand-over before the kill, or it serves everything again
      // (or the successor died before it asked, and nothing happened). First the old app reads
      // what the dead successor sent on each link it opened: a take-over request or the end.
      Daemon.await("the old app ends each link from the killed " + next, Duration.ofSeconds(30),
          () -> linksEnded(app.log(), next.pid()));
      boolean asked = app.log().substring(logLength).contains("asks to take over");
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (asked && System.nanoTime() < deadline && app.isAlive()
          && count(app.log(), "serving everything here again") == restoredBefore) {
        Daemon.sleep(50);
      }
      logLength = app.log().length();
      if (!app.isAlive()) {
        assertEquals(0, app.awaitExit(Duration.ofSeconds(1)), app.log());
        assertTrue(app.log().contains("handed " + CLIENTS + " connections over"),
            "the old app exits only once everything is handed over:\n" + app.log());
        handedOver++;
        break; // its clients went with the killed successor; nothing left to test on
      }
      kept++;
      assertOldAppServesEverything(app, clients);
    }
    System.out.println("TakeOverFaultsIT: successor killed " + (kept + handedOver)
        + " times: old app kept everything " + kept + " times, had handed everything over "
        + handedOver + " times");
    assertTrue(kept > 0, "at least the first kill comes before the move ends");
  }

  /**
   * Two successors started together. One take-over runs at a time: a successor that asks while
   * one is under way is refused ("already being taken over"), one that finds the path between two
   * apps ("no app is listening") or connects just as the old app closes its listening socket
   * ("closed the link before it took the take-over request") or whose link the old app accepted
   * just before answering CLOSING on every link ("is closing") fails, each saying "if another
   * take-over is under way...", and one that asks after the first take-over finished takes
   * over from the winner, which is then a second, complete upgrade. Whatever the timing, exactly
   * one app is left, it serves every connection, and a loser never exits 0 without having handed
   * everything over.
   */
  @Test
  void twoTakeOversAtOnceLeaveExactlyOneAppServingEverything() throws Exception {
    Daemon app = daemons.app(socket);
    daemons.proxy(port, socket, "--retry-max", "200ms");
    List<Socket> clients = connectServed(10);
    Daemon a = daemons.start("app", "--take-over", socket.toString());
    Daemon b = daemons.start("app", "--take-over", socket.toString());
    assertEquals(0, app.awaitExit(Duration.ofSeconds(60)), app.log());
    assertTrue(app.log().contains("handed 10 connections over"), app.log());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (a.isAlive() && b.isAlive() && System.nanoTime() < deadline) {
      Daemon.sleep(50);
    }
    Daemon gone = a.isAlive() ? b : a;
    Daemon left = gone == a ? b : a;
    int status = gone.awaitExit(Duration.ofSeconds(30));
    if (status == 0) {
      assertTrue(gone.log().contains("handed 10 connections over"),
          "exit 0 only after a complete hand-over to the other one:\n" + gone.log());
    } else {
      // Refused by the app it asked, or it met the app as that app was handing over to the
      // other one (the listening socket it connected to closed before accepting it).
      assertTrue(gone.log().contains("already being taken over")
          || gone.log().contains("another take-over is under way"), gone.log());
    }
    System.out.println("TakeOverFaultsIT: two successors at once: the other one "
        + (status == 0 ? "took over from the first (two upgrades in a row)" : "was refused"));
    left.awaitLog("for proxy links", Duration.ofSeconds(30)); // it took over the socket path
    assertTrue(left.isAlive(), left.log());
    for (Socket s : clients) {
      EchoClient.assertEchoes(s, "after".getBytes());
      s.close();
    }
    EchoClient.echoOnce(port, "new".getBytes());
  }

  /**
   * Clients that sent 4 MiB, half-closed and read nothing yet: after a take-over, and
   * after the old app's drain timeout, each still gets every byte back, then EOF.
   */
  @Test
  void halfClosedClientsLoseNothingInATakeOver() throws Exception {
    int size = 4 << 20;
    Daemon app = daemons.app(socket, "--drain-timeout", "1s");
    daemons.proxy(port, socket);
    ExecutorService pool = Executors.newCachedThreadPool();
    try {
      List<Socket> clients = new ArrayList<>();
      List<byte[]> sent = new ArrayList<>();
      List<Future<?>> writes = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        Socket s = EchoClient.connect(port);
        s.setSoTimeout(30_000);
        byte[] data = EchoClient.randomBytes(new Random(i), size);
        clients.add(s);
        sent.add(data);
        writes.add(pool.submit(() -> {
          s.getOutputStream().write(data);
          s.shutdownOutput();
          return null;
        }));
      }
      for (Future<?> w : writes) {
        w.get(30, TimeUnit.SECONDS);
      }
      // Whether the app still holds bytes it could not echo depends on the kernel's buffers
      // (the clients read nothing): either way each client must get every byte, then EOF.
      Daemon.await("the old app adopted the three clients", Duration.ofSeconds(20),
          () -> app.status("adopted") == 3);
      Daemon next = daemons.start("app", "--take-over", socket.toString());
      assertEquals(0, app.awaitExit(Duration.ofSeconds(60)), app.log());
      Daemon.sleep(2000); // past the old app's drain timeout
      for (int i = 0; i < clients.size(); i++) {
        Socket s = clients.get(i);
        assertArrayEquals(sent.get(i), EchoClient.readExactly(s.getInputStream(), size),
            "client " + i + " gets all its bytes back");
        assertEquals(-1, s.getInputStream().read(), "then EOF");
        s.close();
      }
      assertTrue(next.isAlive(), next.log());
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * Whether every link the app logged from process {@code pid} has ended there: closed, failed,
   * or read up to a take-over request.
   */
  private static boolean linksEnded(String log, long pid) {
    String peer = " (pid " + pid + ",";
    int up = 0;
    int ended = 0;
    for (String line : log.split("\n")) {
      if (!line.contains(peer)) {
        continue;
      }
      if (line.endsWith(") up")) {
        up++;
      } else if (line.endsWith(") closed") || line.contains(") failed: ")
          || line.contains("asks to take over")) {
        ended++;
      }
    }
    return ended >= up;
  }

  private static int count(String text, String what) {
    int n = 0;
    for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
      n++;
    }
    return n;
  }

  private static HandoffHeader takeOverRequest() {
    InetSocketAddress none = new InetSocketAddress(0);
    return new HandoffHeader(0, 0, none, none, HandoffHeader.Kind.TAKEOVER, 0);
  }

  private List<Socket> connectServed(int n) throws IOException {
    List<Socket> clients = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Socket s = EchoClient.connect(port);
      EchoClient.assertEchoes(s, ("before " + i).getBytes());
      clients.add(s);
    }
    return clients;
  }

  /** Alive after its drain timeout, every client still echoed, the path back, new clients served. */
  private void assertOldAppServesEverything(Daemon app, List<Socket> clients) throws Exception {
    Daemon.sleep(1500); // longer than --drain-timeout: a wrongful shutdown would have cut them
    assertTrue(app.isAlive(), "the old app stays up:\n" + app.log());
    for (int i = 0; i < clients.size(); i++) {
      EchoClient.assertEchoes(clients.get(i), ("after " + i).getBytes());
    }
    assertTrue(Files.exists(socket), "the socket path is back:\n" + app.log());
    for (int i = 0; i < 5; i++) {
      EchoClient.echoOnce(port, ("new " + i).getBytes());
    }
  }
}
