package dev.handoff.it;

import static dev.handoff.it.EchoClient.assertEchoes;
import static dev.handoff.it.EchoClient.connect;
import static dev.handoff.it.EchoClient.echoOnce;
import static dev.handoff.it.EchoClient.randomBytes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.Socket;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The signal table in docs/BEHAVIOUR.md, SIGHUP and SIGINT (SIGTERM: {@link HandoffPairIT};
 * SIGUSR1: {@link MetricsIT}).
 */
@Timeout(120)
class SignalsIT extends DaemonTest {
  private final Random random = new Random(1);

  @Test
  void sighupToTheProxyLogsNothingToReloadAndDropsNothing() throws Exception {
    daemons.app(socket);
    Daemon proxy = daemons.proxy(port, socket);
    try (Socket before = connect(port)) {
      assertEchoes(before, randomBytes(random, 100));
      proxy.signal("HUP");
      proxy.awaitLog("SIGHUP received: nothing to reload", Duration.ofSeconds(5));
      assertTrue(proxy.log().contains("with --control PATH, SIGHUP starts a new proxy that takes"
          + " over"), "it says how to enable reload:\n" + proxy.log());
      assertFalse(proxy.log().contains("started a new proxy"), proxy.log());
      Daemon.sleep(300);
      assertTrue(proxy.isAlive(), "the proxy survives SIGHUP:\n" + proxy.log());
      assertEchoes(before, randomBytes(random, 100));
      echoOnce(port, randomBytes(random, 100)); // and it still accepts
    }
    proxy.stopAndLog(); // SIGTERM after a SIGHUP still stops it with status 0
  }

  /**
   * A proxy started with SIGHUP ignored (under nohup, say) keeps it ignored: with --control it
   * says at start that reload by SIGHUP is unavailable, and how to reload instead; a SIGHUP
   * changes nothing.
   */
  @Test
  void aProxyStartedWithSighupIgnoredSaysHowElseToReload() throws Exception {
    daemons.app(socket);
    String control = dir.resolve("proxy.ctl").toString();
    Daemon proxy = daemons.startWithEnv(java.util.Map.of(Daemon.WRAPPER,
        "env --ignore-signal=HUP"), "proxy", "--control", control, Integer.toString(port),
        socket.toString());
    proxy.awaitLog("ready for a proxy started with --take-over", Duration.ofSeconds(30));
    String log = proxy.log();
    assertTrue(log.contains("reload by SIGHUP is unavailable") && log.contains("--take-over")
        && log.contains(control), "it says how else to reload:\n" + log);
    proxy.signal("HUP");
    echoOnce(port, randomBytes(random, 100)); // served on: the signal never arrived
    assertTrue(proxy.isAlive(), proxy.log());
    assertFalse(proxy.log().contains("started a new proxy"), proxy.log());
    proxy.stopAndLog();
  }

  @Test
  void sighupToTheAppLogsAndCarriesOnWithItsClients() throws Exception {
    Daemon app = daemons.app(socket);
    daemons.proxy(port, socket);
    try (Socket before = connect(port)) {
      assertEchoes(before, randomBytes(random, 100));
      app.signal("HUP");
      app.awaitLog("SIGHUP received: nothing to reload; carrying on", Duration.ofSeconds(5));
      Daemon.sleep(300);
      assertTrue(app.isAlive(), "the app survives SIGHUP:\n" + app.log());
      assertEchoes(before, randomBytes(random, 100));
      echoOnce(port, randomBytes(random, 100));
    }
    assertFalse(app.log().contains("no longer taking handoffs"), "SIGHUP is not a shutdown");
  }

  @Test
  void sigintStopsBothInOrderWithStatusZero() throws Exception {
    Daemon app = daemons.app(socket);
    Daemon proxy = daemons.proxy(port, socket);
    echoOnce(port, randomBytes(random, 100));
    proxy.signal("INT");
    assertEquals(0, proxy.awaitExit(Duration.ofSeconds(10)), proxy.log());
    assertTrue(proxy.log().contains("SIGINT received: shutting down"), proxy.log());
    app.signal("INT");
    assertEquals(0, app.awaitExit(Duration.ofSeconds(10)), app.log());
    assertTrue(app.log().contains("SIGINT received: shutting down"), app.log());
    assertFalse(Files.exists(socket), "the app removes its socket file on SIGINT too");
  }
}
