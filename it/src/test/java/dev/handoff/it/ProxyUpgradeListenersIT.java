package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code proxy --config FILE --control PATH --take-over} upgrades a proxy of several
 * listeners (docs/UPGRADES.md, "Upgrading a proxy of several listeners"; docs/PROTOCOL.md): every
 * listening socket is passed on and matched to the new configuration's listeners by address.
 * Each listener here has an echo app of its own.
 */
class ProxyUpgradeListenersIT extends ListenersTest {
  /** Apps for {@code port} and {@code other}, and a configuration of both listeners. */
  private Path twoListeners(int other) throws IOException {
    apps(port, other);
    return config("two", port, other);
  }

  private String[] takeOverArgs(Path config) {
    return new String[] {"--config", config.toString(), "--control", control().toString(),
        "--take-over"};
  }

  /** Runs a take-over with {@code config}: the old proxy exits 0, the new one is ready. */
  private Daemon upgrade(Daemon old, Path config) throws Exception {
    Daemon next = daemons.start("proxy", takeOverArgs(config));
    assertEquals(0, old.awaitExit(Duration.ofSeconds(30)), "the replaced proxy:\n" + old.log());
    next.awaitLog(READY, Duration.ofSeconds(20));
    assertTrue(old.log().contains("handed over to pid " + next.pid()), old.log());
    return next;
  }

  private static void echo(int port, String text) throws IOException {
    EchoClient.echoOnce(port, text.getBytes(StandardCharsets.US_ASCII));
  }

  /**
   * Two listeners under 30 new connections a second over both ports and 20 ping-ponging clients
   * on each, through three upgrades in a row: nothing refused, nothing lost, every byte right.
   */
  @Test
  void threeUpgradesOfTwoListenersUnderLoadRefuseNothing() throws Exception {
    int other = EchoClient.freePort();
    Path config = twoListeners(other);
    Daemon proxy = firstProxy(config);
    echo(port, "warm");
    echo(other, "warm");
    try (UpgradeLoad load = new UpgradeLoad()) {
      load.pingPong(port, 20);
      load.pingPong(other, 20);
      load.arrivals(30, port, other);
      load.awaitServed(30);
      List<Long> upgradeMillis = new ArrayList<>();
      for (int upgrade = 1; upgrade <= 3; upgrade++) {
        long began = System.nanoTime();
        Daemon next = upgrade(proxy, config);
        upgradeMillis.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began));
        assertTrue(next.log().contains("received the listening sockets"), next.log());
        assertTrue(!next.log().contains("this proxy binds it"), next.log());
        proxy = next;
        load.awaitServed(15);
      }
      load.finish();
      String report = String.format("proxy upgrades with two listeners: 3 (each %s ms from start"
          + " to the old proxy's exit); new connections over both ports: %d served, %d refused,"
          + " %d lost; longest wait (connect to echo): %.1f ms; ping-pongs: %d on 40"
          + " connections%n", upgradeMillis, load.served.get(), load.refused.get(),
          load.lost.get(), load.longestWaitMillis(), load.pingPongs.get());
      Files.writeString(Path.of("target", "proxy-upgrade-listeners.txt"), report);
      assertEquals(List.of(), new ArrayList<>(load.failures), report);
      assertEquals(0, load.refused.get(), report);
      assertEquals(0, load.lost.get(), report);
      assertTrue(load.served.get() >= 30 + 3 * 15, report);
      assertTrue(load.pingPongs.get() > 0, report);
      assertTrue(load.longestWaitMillis() < 10_000, "no new connection waited as long as a queue"
          + " wait: " + report);
      assertTrue(proxy.isAlive());
      assertTrue(!proxy.log().contains("ERROR"), proxy.log());
    }
  }

  /**
   * The new configuration drops one listener and adds another: the kept port never refuses, the
   * dropped one refuses once the old proxy has exited, the added one serves.
   */
  @Test
  void anUpgradeCanDropOneListenerAndAddAnother() throws Exception {
    int dropped = EchoClient.freePort();
    int added = EchoClient.freePort();
    apps(port, dropped, added);
    Daemon proxy = firstProxy(config("before", port, dropped));
    echo(port, "kept");
    echo(dropped, "dropped");
    assertThrows(ConnectException.class, () -> echo(added, "not yet"));
    try (UpgradeLoad load = new UpgradeLoad()) {
      load.pingPong(port, 10);
      load.arrivals(30, port);
      load.awaitServed(15);
      Daemon next = upgrade(proxy, config("after", port, added));
      load.awaitServed(15);
      load.finish();
      assertTrue(load.served.get() >= 30, "the kept port served throughout: "
          + load.served.get());
      assertEquals(List.of(), new ArrayList<>(load.failures));
      assertEquals(0, load.refused.get());
      assertEquals(0, load.lost.get());
      String log = next.log();
      assertTrue(log.contains("listening socket /127.0.0.1:" + dropped + " is in no listener"
          + " here"), log);
      assertTrue(log.contains("no listening socket on /127.0.0.1:" + added), log);
      assertThrows(ConnectException.class, () -> echo(dropped, "gone"));
      echo(added, "added");
      echo(port, "kept");
      assertTrue(!log.contains("ERROR"), log);
    }
  }

  /**
   * The new proxy killed with both sockets received, and after it said ACCEPTING (while the old
   * one settles, and while it waits for RELEASE): the old one accepts (again) on both listeners, and its descriptor count
   * comes back to where it was; a take-over afterwards works.
   */
  @Test
  void aNewProxyKilledAfterAcceptingLeavesBothListenersServing() throws Exception {
    int other = EchoClient.freePort();
    Path config = twoListeners(other);
    Daemon proxy = firstProxy(config);
    for (int i = 0; i < 5; i++) {
      echo(port, "warm" + i);
      echo(other, "warm" + i);
    }
    int baseline = proxy.settledFds();
    int kills = 0;
    // listener: both sockets received, not yet accepting (the old proxy never stopped); then
    // after ACCEPTING, while the old proxy settles, and while it waits for RELEASE.
    for (String stage : List.of("listener", "accepting-sent", "done")) {
      Daemon next = daemons.startWithEnv(Map.of("HANDOFF_TAKEOVER_TEST_PAUSE", stage + "=3000"),
          "proxy", takeOverArgs(config));
      next.awaitLog("take-over test pause at " + stage, Duration.ofSeconds(30));
      boolean accepted = !stage.equals("listener");
      if (accepted) {
        kills++;
        // Both listeners stopped accepting here before the kill.
        proxy.awaitCount("stopped accepting: the proxy taking over", 2 * kills,
            Duration.ofSeconds(20));
      }
      Thread.sleep(200); // the kill's moment: into the pause, not a wait for a condition
      next.kill();
      if (accepted) {
        proxy.awaitCount("accepting again on", 2 * kills, Duration.ofSeconds(20));
      }
      assertTrue(proxy.isAlive(), proxy.log());
      for (int i = 0; i < 5; i++) {
        echo(port, stage + i);
        echo(other, stage + i);
      }
      assertEquals(baseline, proxy.awaitFds(baseline, Duration.ofSeconds(10)),
          "the old proxy's descriptors after a kill at " + stage);
    }
    Daemon next = upgrade(proxy, config);
    echo(port, "after");
    echo(other, "after");
    assertTrue(!proxy.log().contains("ERROR"), proxy.log());
    assertTrue(next.isAlive());
  }
}
