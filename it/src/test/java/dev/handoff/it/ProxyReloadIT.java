package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code systemctl reload} without systemd: SIGHUP to a proxy run with {@code --control PATH}
 * makes it start its own successor ({@code scripts/proxy} again, the same arguments plus
 * {@code --take-over}), which takes over as in {@link ProxyUpgradeIT} (docs/UPGRADES.md,
 * "Upgrading the proxy"; the signal table in docs/BEHAVIOUR.md).
 *
 * <p>The successor is not this test's child: its pid is read from the old proxy's log line
 * {@code started a new proxy (pid N)} (the successor writes to the same log, its inherited
 * stdout), and it is adopted into the test's {@link DaemonSet} at once ({@link
 * DaemonSet#successor}), so that it is killed at the
 * end whatever happens. {@link #killUnadoptedSuccessors} also kills any successor named in a log
 * that the test did not get as far as adopting. An adopted proxy has no exit status for the test to
 * read: that it handed over is read from its log, that it exited from /proc.
 */
@Timeout(240)
class ProxyReloadIT extends ListenersTest {
  /**
   * Kills every successor named in a log that is still running and was not adopted (the test
   * failed before): a pid is only killed if its command line names this test's control socket.
   */
  @AfterEach
  void killUnadoptedSuccessors() throws IOException {
    for (Daemon d : daemons.all()) {
      for (long pid : Daemon.successorPids(d.log())) {
        Path cmdline = Path.of("/proc", Long.toString(pid), "cmdline");
        String command;
        try {
          command = Files.readString(cmdline, StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
          continue; // gone
        }
        if (command.contains(control().toString())) {
          ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
      }
    }
  }

  /**
   * Sends SIGHUP to {@code old} and waits until its successor (the {@code n}-th named in
   * {@code log}'s log) has taken over and {@code old} is gone; returns the successor.
   */
  private Daemon reload(Daemon old, Daemon log, int n, List<Long> millis) throws Exception {
    long began = System.nanoTime();
    old.signal("HUP");
    Daemon next = daemons.successor(log, n);
    assertNotEquals(old.pid(), next.pid(), "the successor is another process");
    String handedOver = "handed over to pid " + next.pid() + " ";
    old.awaitCount(handedOver, 1, Duration.ofSeconds(30));
    millis.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began)); // SIGHUP to handover
    if (old.adopted()) {
      old.awaitGone(Duration.ofSeconds(60)); // no exit status: its log says it handed over
    } else {
      assertEquals(0, old.awaitExit(Duration.ofSeconds(60)), "the reloaded proxy:\n" + old.log());
    }
    // The successor listens on the control socket in its turn.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!next.log().substring(next.log().indexOf(handedOver)).contains(READY)) {
      assertTrue(System.nanoTime() < deadline, "no control socket after the handover:\n"
          + next.log());
      Daemon.sleep(20);
    }
    assertTrue(next.isAlive(), next.log());
    return next;
  }

  /**
   * What the load saw across {@code reloads} reloads: clients served all along, ping-pongs, one
   * duration per reload, and no new connection that waited as long as a queue wait (10 s): the
   * port never stopped accepting.
   */
  private static void assertServedThroughout(UpgradeLoad load, List<Long> millis, int reloads,
      long atLeast) {
    String figures = load.served.get() + " served, " + load.pingPongs.get() + " ping-pongs,"
        + " reloads took " + millis + " ms, longest wait " + load.longestWaitMillis() + " ms";
    assertEquals(reloads, millis.size(), figures);
    assertTrue(load.served.get() >= atLeast, figures);
    assertTrue(load.pingPongs.get() > 0, figures);
    assertTrue(load.longestWaitMillis() < 10_000, figures);
  }

  private static void echo(int port, String text) throws IOException {
    EchoClient.echoOnce(port, text.getBytes(StandardCharsets.US_ASCII));
  }

  private static void assertNothingRefusedOrLost(UpgradeLoad load, String log) {
    String failures = String.join("\n", load.failures);
    assertEquals(0, load.refused.get(), "refused:\n" + failures + "\n" + log);
    assertEquals(0, load.lost.get(), "lost:\n" + failures + "\n" + log);
    assertTrue(load.failures.isEmpty(), failures + "\n" + log);
    assertTrue(load.pingPongs.get() > 0, "the held clients ping-ponged");
  }

  /**
   * A proxy of one listener under 30 new connections a second and 20 ping-ponging clients: a
   * second listener is added to the file and SIGHUP sent, then a third and SIGHUP again to the new
   * proxy. Each time the old proxy hands over and exits, the new one serves the new listener, and
   * no client is refused or loses a byte.
   */
  @Test
  void twoReloadsInARowApplyTheChangedFileUnderLoad() throws Exception {
    int second = EchoClient.freePort();
    int third = EchoClient.freePort();
    apps(port, second, third);
    Path config = config("proxy", port);
    Daemon first = firstProxy(config);
    echo(port, "warm");
    assertThrows(ConnectException.class, () -> echo(second, "not yet"));
    List<Long> millis = new ArrayList<>();
    try (UpgradeLoad load = new UpgradeLoad()) {
      load.pingPong(port, 20);
      load.arrivals(30, port);
      load.awaitServed(20);

      config("proxy", port, second);
      Daemon one = reload(first, first, 1, millis);
      assertTrue(first.log().contains("proxy.yaml has changed and is valid; started a new proxy"),
          first.log());
      echo(second, "the added listener");
      assertThrows(ConnectException.class, () -> echo(third, "not yet"));
      load.awaitServed(20);

      config("proxy", port, second, third);
      Daemon two = reload(one, first, 2, millis);
      echo(third, "the third listener");
      echo(second, "the second, still");
      load.awaitServed(20);
      load.finish();
      assertNothingRefusedOrLost(load, first.log());
      assertServedThroughout(load, millis, 2, 60);
      assertEquals(List.of(one.pid(), two.pid()), Daemon.successorPids(first.log()),
          "one new proxy per SIGHUP");
      two.terminate();
      two.awaitGone(Duration.ofSeconds(20));
      assertTrue(two.log().contains("ProxyServer: stopped"), two.log());
    }
  }

  /** A broken file at SIGHUP: logged, no new proxy, the proxy serves on as configured. */
  @Test
  void sighupWithAnUnusableFileStartsNothing() throws Exception {
    apps(port);
    Path config = config("proxy", port);
    Daemon proxy = firstProxy(config);
    Files.writeString(config, "listeners:\n  - name: broken\n    listen: nowhere\n");
    proxy.signal("HUP");
    proxy.awaitLog("is not usable now", Duration.ofSeconds(10));
    assertTrue(proxy.log().contains("carrying on as configured, no new proxy started"),
        proxy.log());
    Daemon.sleep(1_000);
    assertTrue(proxy.isAlive(), proxy.log());
    assertFalse(proxy.log().contains("started a new proxy"), proxy.log());
    echo(port, "still here");
    assertEquals(1, Daemon.count(proxy.log(), READY), "no take-over happened");
    proxy.stopAndLog();
  }

  /**
   * A successor that fails: the changed file moves the listener from 127.0.0.1 to 0.0.0.0 on the
   * same port, which the successor cannot bind while the old proxy holds the port
   * (docs/UPGRADES.md, "Upgrading a proxy of several listeners"), so it exits 1. The old proxy
   * logs that with the status, serves on, and takes the next SIGHUP (the file put back) as a new
   * reload, which succeeds.
   */
  @Test
  void aFailedSuccessorIsLoggedWithItsStatusAndTheProxyServesOn() throws Exception {
    apps(port);
    Path config = config("proxy", port);
    Daemon proxy = firstProxy(config);
    Files.writeString(config, Files.readString(config).replace("127.0.0.1:", "0.0.0.0:"));
    proxy.signal("HUP");
    Daemon failed = daemons.successor(proxy, 1);
    failed.awaitGone(Duration.ofSeconds(60));
    proxy.awaitLog("reload: the new proxy (pid " + failed.pid() + ") exited with status 1; this"
        + " proxy serves on", Duration.ofSeconds(10));
    assertTrue(proxy.isAlive(), proxy.log());
    echo(port, "served on");

    config("proxy", port);
    Daemon next = reload(proxy, proxy, 2, new ArrayList<>());
    echo(port, "after the second SIGHUP");
    assertTrue(next.isAlive(), next.log());
  }

  /**
   * PORT SOCKET and {@code --control}, no file: SIGHUP starts the same options again (a new jar,
   * if one was installed), under load, with nothing refused or lost.
   */
  @Test
  void sighupReloadsAProxyOfPortAndSocket() throws Exception {
    daemons.app(socket);
    Daemon proxy = daemons.proxy(port, socket, "--control", control().toString());
    proxy.awaitLog(READY, Duration.ofSeconds(30));
    List<Long> millis = new ArrayList<>();
    try (UpgradeLoad load = new UpgradeLoad()) {
      load.pingPong(port, 20);
      load.arrivals(30, port);
      load.awaitServed(20);
      Daemon next = reload(proxy, proxy, 1, millis);
      assertTrue(next.log().contains("received the listening socket"), next.log());
      load.awaitServed(20);
      load.finish();
      assertNothingRefusedOrLost(load, proxy.log());
      assertServedThroughout(load, millis, 1, 40);
      echo(port, "after the reload");
    }
  }
}
