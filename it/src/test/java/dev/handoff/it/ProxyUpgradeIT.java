package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code proxy --take-over} replaces the running proxy without refusing a connection
 * (docs/UPGRADES.md and docs/PROTOCOL.md, "Upgrading the proxy").
 */
class ProxyUpgradeIT extends DaemonTest {
  private static final String READY = "ready for a proxy started with --take-over";

  private Path control() {
    return dir.resolve("proxy.ctl");
  }

  private Daemon firstProxy(String... extra) throws IOException {
    List<String> options = new ArrayList<>(List.of("--control", control().toString()));
    options.addAll(List.of(extra));
    Daemon proxy = daemons.proxy(port, socket, options.toArray(new String[0]));
    proxy.awaitLog(READY, Duration.ofSeconds(10));
    return proxy;
  }

  private String[] takeOverArgs() {
    return new String[] {"--take-over", "--control", control().toString(),
        Integer.toString(port), socket.toString()};
  }

  /**
   * 30 new connections a second, 100 clients ping-ponging and one 64 MiB stream, through five
   * proxy upgrades in a row: nothing refused, nothing lost, every byte right.
   */
  @Test
  void fiveUpgradesUnderLoadRefuseNothing() throws Exception {
    daemons.app(socket);
    Daemon proxy = firstProxy();
    EchoClient.echoOnce(port, "warm".getBytes(StandardCharsets.US_ASCII));

    try (UpgradeLoad load = new UpgradeLoad()) {
      // 100 clients, each on one connection, ping-ponging 64 bytes every 50 ms.
      load.pingPong(port, 100);
      long streamBytes = 64L << 20;
      Future<Long> streamRead = load.stream(port, streamBytes);
      // 30 new connections a second, each: connect, echo 1 KiB, close.
      load.arrivals(30, port);
      load.awaitServed(30);

      List<Long> upgradeMillis = new ArrayList<>();
      for (int upgrade = 1; upgrade <= 5; upgrade++) {
        proxy = upgrade(proxy, upgradeMillis);
        load.awaitServed(15);
      }
      assertEquals(streamBytes, streamRead.get(60, TimeUnit.SECONDS));
      load.finish();

      String report = String.format("proxy upgrades: 5 (each %s ms from start to the old proxy's"
          + " exit); new connections: %d served, %d refused, %d lost; longest wait for a new"
          + " connection (connect to echo): %.1f ms; ping-pongs: %d on 100 connections; stream:"
          + " %d bytes%n", upgradeMillis, load.served.get(), load.refused.get(), load.lost.get(),
          load.longestWaitMillis(), load.pingPongs.get(), streamBytes);
      Files.writeString(Path.of("target", "proxy-upgrade-longest-wait.txt"), report);
      assertEquals(List.of(), new ArrayList<>(load.failures), report);
      assertEquals(0, load.refused.get(), report);
      assertEquals(0, load.lost.get(), report);
      assertTrue(load.served.get() >= 30 + 5 * 15, report);
      assertTrue(load.pingPongs.get() > 0, report);
      // No new connection waited as long as a queue wait (10 s): the port never stopped accepting.
      assertTrue(load.longestWaitMillis() < 10_000, report);
      assertTrue(proxy.isAlive());
      assertTrue(!proxy.log().contains("ERROR"), proxy.log());
    }
  }

  /** One upgrade: a new proxy takes over, the old one exits 0; returns the new one. */
  private Daemon upgrade(Daemon proxy, List<Long> millis) throws Exception {
    long began = System.nanoTime();
    Daemon next = daemons.start("proxy", takeOverArgs());
    int status = proxy.awaitExit(Duration.ofSeconds(30));
    assertEquals(0, status, "the replaced proxy's exit status:\n" + proxy.log());
    next.awaitLog(READY, Duration.ofSeconds(10));
    millis.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began));
    assertTrue(proxy.log().contains("handed over to pid " + next.pid()), proxy.log());
    return next;
  }

  /**
   * A new proxy killed (SIGKILL) at each stage of the exchange, in an order and after delays drawn
   * from a printed seed: the running proxy keeps or resumes accepting, serves new connections,
   * and its descriptor count comes back to where it was.
   */
  @Test
  void aNewProxyKilledAtAnyStageLeavesTheOldOneServing() throws Exception {
    long seed = Long.getLong("handoff.seed", System.nanoTime());
    System.out.println("ProxyUpgradeIT seed: " + seed + " (rerun with -Dhandoff.seed=" + seed
        + ")");
    Random random = new Random(seed);
    daemons.app(socket);
    Daemon proxy = firstProxy();
    for (int i = 0; i < 5; i++) {
      EchoClient.echoOnce(port, ("warm" + i).getBytes(StandardCharsets.US_ASCII));
    }
    int baseline = proxy.settledFds();
    // connected: right after connecting; listener: after receiving the listener; accepting: after
    // it started accepting; accepting-sent: the old one stopped accepting; done: the old one is
    // waiting for the answer to DONE.
    List<String> stages = new ArrayList<>(
        List.of("connected", "listener", "accepting", "accepting-sent", "done"));
    Collections.shuffle(stages, random);
    for (String stage : stages) {
      Daemon next = daemons.startWithEnv(Map.of("HANDOFF_TAKEOVER_TEST_PAUSE", stage + "=3000"),
          "proxy", takeOverArgs());
      next.awaitLog("take-over test pause at " + stage, Duration.ofSeconds(20));
      long delay = random.nextInt(500);
      System.out.println("killing the new proxy at stage " + stage + " + " + delay + " ms");
      Thread.sleep(delay); // the kill's moment, drawn from the seed: not a wait for a condition
      next.kill();
      assertTrue(proxy.isAlive(), "the old proxy exited after a kill at " + stage + ":\n"
          + proxy.log());
      for (int i = 0; i < 10; i++) {
        EchoClient.echoOnce(port, EchoClient.randomBytes(random, 100 + i));
      }
      int fds = proxy.awaitFds(baseline, Duration.ofSeconds(10));
      assertEquals(baseline, fds, "the old proxy's descriptors after a kill at " + stage);
    }
    // After all that, a take-over still works.
    Daemon next = daemons.start("proxy", takeOverArgs());
    assertEquals(0, proxy.awaitExit(Duration.ofSeconds(30)), proxy.log());
    next.awaitLog(READY, Duration.ofSeconds(10));
    EchoClient.echoOnce(port, "after".getBytes(StandardCharsets.US_ASCII));
    String log = proxy.log();
    assertTrue(log.contains("accepting again"), log);
    assertTrue(!log.contains("ERROR"), log);
  }

  /**
   * A new proxy killed (SIGKILL) before it has taken over, while the running proxy has handoffs
   * in flight to an app that cannot answer yet (stopped): at the stage where it has the listening
   * socket and does not accept yet, and at the stage where the running proxy has stopped accepting
   * and waits for its last answers. The running proxy keeps or resumes accepting, every connection
   * it had accepted is served once the app answers again, and so is every connection made while
   * the new proxy held the listening socket without accepting.
   */
  @Test
  void aNewProxyKilledBeforeItTookOverLeavesEveryConnectionInFlightServed() throws Exception {
    Daemon app = daemons.app(socket);
    // Handoffs stay unanswered while the app is stopped: the queue wait must outlast that.
    Daemon proxy = firstProxy("--queue-wait", "60s");
    EchoClient.echoOnce(port, "warm".getBytes(StandardCharsets.US_ASCII));
    for (String stage : List.of("listener", "accepting-sent")) {
      app.signal("STOP");
      try (ClientGroup inFlight = new ClientGroup(port, 20, 60_000)) {
        Daemon next = daemons.startWithEnv(Map.of("HANDOFF_TAKEOVER_TEST_PAUSE",
            stage + "=8000"), "proxy", takeOverArgs());
        next.awaitLog("take-over test pause at " + stage, Duration.ofSeconds(30));
        // Before the new proxy accepts, connections go to the running one (at "accepting-sent"
        // the new one accepts, and what it accepted would die with it: none is made then).
        ClientGroup during = stage.equals("listener") ? new ClientGroup(port, 20, 60_000) : null;
        try {
          next.kill();
          assertTrue(proxy.isAlive(), "the old proxy exited after a kill at " + stage + ":\n"
              + proxy.log());
          app.signal("CONT");
          inFlight.assertAllServed(30);
          if (during != null) {
            during.assertAllServed(30);
          }
        } finally {
          if (during != null) {
            during.close();
          }
        }
      }
      for (int i = 0; i < 5; i++) {
        EchoClient.echoOnce(port, ("after " + stage + " " + i).getBytes(StandardCharsets.US_ASCII));
      }
    }
    String log = proxy.log();
    assertTrue(log.contains("accepting again"), log);
    assertTrue(!log.contains("ERROR"), log);
  }

  /** A proxy of a uid the running one does not allow cannot take over. */
  @Test
  void aControlPeerOfAnotherUidIsRefused() throws Exception {
    int uid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    String other = Integer.toString(uid + 4242);
    daemons.app(socket);
    Daemon proxy = firstProxy("--control-uid", other);
    Daemon next = daemons.start("proxy", takeOverArgs());
    assertEquals(1, next.awaitExit(Duration.ofSeconds(30)), next.log());
    assertTrue(next.log().contains("closed the control link"), next.log());
    proxy.awaitLog("uid " + uid + " is not allowed [" + other + "]", Duration.ofSeconds(5));
    assertTrue(proxy.isAlive());
    byte[] data = "still here".getBytes(StandardCharsets.US_ASCII);
    try (Socket s = EchoClient.connect(port)) {
      EchoClient.assertEchoes(s, data);
    }
    assertArrayEquals(data, data);
  }

  /**
   * Socket activation: the listening socket systemd passed in (here scripts/socket-activate.pl,
   * as SystemdIT does) is passed on the same way, and the port it was passed for keeps working.
   */
  @Test
  void anInheritedListenerIsPassedOnToo() throws Exception {
    daemons.app(socket);
    String activate = Daemon.ROOT.resolve("scripts/socket-activate.pl") + " 127.0.0.1:" + port;
    Daemon proxy = daemons.startWithEnv(Map.of(Daemon.WRAPPER, activate), "proxy",
        "--control", control().toString(), "1", socket.toString());
    proxy.awaitLog("(socket passed in by systemd)", Duration.ofSeconds(20));
    proxy.awaitLog(READY, Duration.ofSeconds(10));
    EchoClient.echoOnce(port, "before".getBytes(StandardCharsets.US_ASCII));
    Daemon next = daemons.start("proxy", "--take-over", "--control", control().toString(), "1",
        socket.toString());
    assertEquals(0, proxy.awaitExit(Duration.ofSeconds(30)), proxy.log());
    next.awaitLog(READY, Duration.ofSeconds(10));
    assertTrue(next.log().contains("received the listening socket /127.0.0.1:" + port),
        next.log());
    // Its log goes on to the end (the JDK's close of an inherited channel would have pointed
    // descriptors 0-2 at /dev/null).
    assertTrue(proxy.log().contains("handed over to pid " + next.pid()), proxy.log());
    assertTrue(proxy.log().contains("stopped: accepted=1 "), proxy.log());
    EchoClient.echoOnce(port, "after".getBytes(StandardCharsets.US_ASCII));
  }

  /**
   * One take-over at a time: a second new proxy waits while the first one's exchange runs; it
   * goes ahead when the first fails, and is turned away (exit 1) when the first succeeds.
   */
  @Test
  void aSecondTakeOverWaitsForTheFirst() throws Exception {
    daemons.app(socket);
    Daemon proxy = firstProxy();
    // The first new proxy dies in the middle: the second, waiting, takes over.
    Daemon first = daemons.startWithEnv(Map.of("HANDOFF_TAKEOVER_TEST_PAUSE",
        "accepting-sent=8000"), "proxy", takeOverArgs());
    first.awaitLog("take-over test pause at accepting-sent", Duration.ofSeconds(20));
    Daemon second = daemons.start("proxy", takeOverArgs());
    // Its JVM starts and it connects, while the first one's exchange runs: it waits in the
    // control socket's accept queue.
    Daemon.await("the second new proxy waits on the control socket", Duration.ofSeconds(60),
        () -> pendingConnections(control()) >= 1);
    assertTrue(!second.log().contains("received the listening socket"), second.log());
    first.kill();
    assertEquals(0, proxy.awaitExit(Duration.ofSeconds(30)), proxy.log());
    second.awaitLog(READY, Duration.ofSeconds(10));
    assertTrue(proxy.log().contains("handed over to pid " + second.pid()), proxy.log());
    EchoClient.echoOnce(port, "second".getBytes(StandardCharsets.US_ASCII));
    // The first new proxy succeeds: the one waiting behind it is turned away.
    // (the pause leaves the fourth one's JVM time to start and connect, even on a loaded machine)
    Daemon third = daemons.startWithEnv(Map.of("HANDOFF_TAKEOVER_TEST_PAUSE",
        "accepting-sent=8000"), "proxy", takeOverArgs());
    third.awaitLog("take-over test pause at accepting-sent", Duration.ofSeconds(20));
    Daemon fourth = daemons.start("proxy", takeOverArgs());
    assertEquals(0, second.awaitExit(Duration.ofSeconds(30)), second.log());
    assertEquals(1, fourth.awaitExit(Duration.ofSeconds(30)), fourth.log());
    assertTrue(fourth.log().contains("closed the control link"), fourth.log());
    third.awaitLog(READY, Duration.ofSeconds(10));
    EchoClient.echoOnce(port, "third".getBytes(StandardCharsets.US_ASCII));
  }

  /**
   * Connections waiting in the accept queue of the listening unix socket at {@code path}: its
   * Recv-Q in {@code ss -xl} (iproute2).
   */
  private static int pendingConnections(Path path) {
    try {
      Process ss = new ProcessBuilder("ss", "-xlnH").redirectErrorStream(true).start();
      String out = new String(ss.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(ss.waitFor(10, TimeUnit.SECONDS), "ss finished");
      for (String line : out.split("\n")) {
        String[] f = line.trim().split("\\s+");
        if (f.length > 4 && f[4].equals(path.toString())) {
          return Integer.parseInt(f[2]);
        }
      }
      return 0;
    } catch (IOException e) {
      throw new AssertionError("ss (iproute2) is needed to see the control socket's queue", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }
}
