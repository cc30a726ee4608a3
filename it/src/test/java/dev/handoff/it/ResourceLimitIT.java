package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Both processes at their open-file limit (a low {@code ulimit -n}): neither spins, crashes or
 * loses a descriptor, and both recover once descriptors free up.
 */
@Timeout(120)
class ResourceLimitIT extends DaemonTest {

  @Test
  void anAppNearItsDescriptorLimitAnswersRetryAndServesEveryoneOnceSomeLeave() throws Exception {
    Daemon app = daemons.startLimited(400, "app", socket.toString());
    app.awaitLog("for proxy links", Duration.ofSeconds(20));
    Daemon proxy = daemons.proxy(port, socket, "--queue-wait", "60s");
    for (int i = 0; i < 5; i++) {
      EchoClient.echoOnce(port, "warm up".getBytes());
    }
    try (ClientGroup clients = new ClientGroup(port, 120, 60_000)) {
      app.awaitLog("(at most 80 connections)", Duration.ofSeconds(1));
      // The app serves up to its limit and answers RETRY for the rest, which the proxy keeps.
      Daemon.await("the app serves 80 clients, its limit", Duration.ofSeconds(30),
          () -> clients.served() >= 80);
      int served = clients.served();
      assertTrue(served > 0 && served < 120, "the app serves what its limit allows: " + served);
      assertEquals(served, clients.closeServed(120), "those clients leave");
      clients.assertAllServed(45);
    }
    assertTrue(app.isAlive(), app.log());
    proxy.terminate();
    assertEquals(0, proxy.awaitExit(Duration.ofSeconds(15)), proxy.log());
    assertTrue(proxy.log().matches("(?s).*retried=[1-9].*"), proxy.log());
    assertTrue(proxy.log().contains("dropped-expired=0"), proxy.log());
  }

  @Test
  void aProxyOutOfDescriptorsBacksOffAcceptingAndCatchesUp() throws Exception {
    Daemon app = daemons.app(socket);
    Daemon proxy = daemons.startLimited(48, "proxy", "--queue-wait", "60s",
        Integer.toString(port), socket.toString());
    proxy.awaitLog("listening on", Duration.ofSeconds(20));
    EchoClient.echoOnce(port, "linked".getBytes());
    app.signal("STOP"); // every handoff now waits for an answer, holding the proxy's copy
    try (ClientGroup clients = new ClientGroup(port, 60, 60_000)) {
      proxy.awaitLog("Too many open files", Duration.ofSeconds(20));
      long cpuBefore = Cpu.ticks(proxy.pid());
      Daemon.sleep(2000); // the window measured: a proxy that spins burns it
      long cpu = Cpu.ticks(proxy.pid()) - cpuBefore;
      assertTrue(cpu < 100, "the proxy backs off instead of spinning: " + cpu + " ticks in 2 s");
      app.signal("CONT");
      clients.assertAllServed(45);
    }
    assertTrue(proxy.isAlive(), proxy.log());
  }
}
