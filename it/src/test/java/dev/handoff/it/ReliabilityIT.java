package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Acknowledged handoffs, several apps, restarts and signals: no client that could be served is lost. */
@Timeout(120)
class ReliabilityIT extends DaemonTest {
  private Path socketA;
  private Path socketB;

  @BeforeEach
  void twoSockets() {
    socketA = socket;
    socketB = dir.resolve("b.sock");
  }

  private static String stopped(Daemon proxy) throws InterruptedException {
    return proxy.stopAndLog();
  }

  @Test
  void handoffsInFlightToAnAppThatDiesAreServedByAnotherApp() throws Exception {
    Daemon a = daemons.app(socketA);
    daemons.app(socketB);
    Daemon proxy = daemons.proxy(port, java.util.List.of(socketA, socketB));
    EchoClient.echoOnce(port, "both linked".getBytes());
    EchoClient.echoOnce(port, "both linked".getBytes());
    proxy.awaitLog("linked to app at " + socketB, Duration.ofSeconds(5));
    a.signal("STOP"); // a frozen app: what is sent to it stays unread in its socket buffer
    try (ClientGroup clients = new ClientGroup(port, 40, 30_000)) {
      Daemon.sleep(1000);
      assertTrue(clients.served() < 40, "some handoffs are stuck at the frozen app");
      a.kill();
      clients.assertAllServed(20);
    }
    String log = stopped(proxy);
    assertTrue(log.matches("(?s).*resent=[1-9].*"), "the stuck ones were sent again:\n" + log);
  }

  @Test
  void handoffsInFlightWhenTheOnlyAppDiesAreServedByItsSuccessor() throws Exception {
    Daemon app = daemons.app(socketA);
    Daemon proxy = daemons.proxy(port, socketA);
    EchoClient.echoOnce(port, "linked".getBytes());
    app.signal("STOP");
    try (ClientGroup clients = new ClientGroup(port, 10, 30_000)) {
      Daemon.sleep(500);
      assertEquals(0, clients.served(), "nothing is served while the app is frozen");
      app.kill();
      daemons.app(socketA);
      clients.assertAllServed(20);
    }
    assertTrue(stopped(proxy).matches("(?s).*resent=([1-9]|10).*"));
  }

  @Test
  void anAppStoppedWithSigtermHandsNewClientsToTheOtherAppWithoutAnyError() throws Exception {
    Daemon a = daemons.app(socketA);
    daemons.app(socketB);
    Daemon proxy = daemons.proxy(port, java.util.List.of(socketA, socketB));
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicInteger served = new AtomicInteger();
    ExecutorService load = Executors.newFixedThreadPool(4);
    Future<?>[] workers = new Future<?>[4];
    for (int w = 0; w < workers.length; w++) {
      workers[w] = load.submit(() -> {
        byte[] data = new byte[1024];
        while (running.get()) {
          EchoClient.echoOnce(port, data);
          served.incrementAndGet();
        }
        return null;
      });
    }
    try {
      Daemon.await("the load runs over both apps", Duration.ofSeconds(30),
          () -> served.get() >= 100);
      a.terminate();
      assertEquals(0, a.awaitExit(Duration.ofSeconds(15)), a.log());
      int atStop = served.get();
      Daemon.await("clients go on being served by the other app", Duration.ofSeconds(30),
          () -> served.get() >= atStop + 100);
    } finally {
      running.set(false);
      for (Future<?> w : workers) {
        w.get(); // rethrows the first client that failed
      }
      load.shutdown();
    }
    assertTrue(!Files.exists(socketA), "the stopped app removed its socket file");
    String log = stopped(proxy);
    assertTrue(log.contains("rejected-by-app=0 dropped-expired=0 dropped-at-shutdown=0"
        + " unacknowledged=0"), log);
  }

  @Test
  void severalProxiesFeedOneApp() throws Exception {
    Daemon app = daemons.app(socketA);
    int otherPort = EchoClient.freePort();
    daemons.proxy(port, socketA);
    daemons.proxy(otherPort, socketA);
    for (int i = 0; i < 20; i++) {
      EchoClient.echoOnce(i % 2 == 0 ? port : otherPort, ("via proxy " + i).getBytes());
    }
    assertTrue(app.log().contains("link from proxy#1") && app.log().contains("link from proxy#2"),
        app.log());
  }

  @Test
  void theProxySendsNothingToAnAppOfAnotherUid() throws Exception {
    int uid = ownUid();
    String other = Integer.toString(uid + 4242);
    daemons.app(socketA);
    Daemon proxy = daemons.proxy(port, socketA, "--app-uid", other,
        "--queue-wait", "1s");
    try (var s = EchoClient.connect(port)) {
      proxy.awaitLog("not an allowed uid [" + other + "]", Duration.ofSeconds(10));
      assertTrue(proxy.log().matches("(?s).*runs as pid \\d+, uid " + uid + "\\b.*"),
          proxy.log());
    }
  }

  @Test
  void theAppRefusesAProxyOfAnotherUid() throws Exception {
    int uid = ownUid();
    String other = Integer.toString(uid + 4242);
    Daemon app = daemons.app(socketA, "--allow-uid", other);
    daemons.proxy(port, socketA, "--queue-wait", "1s");
    try (var s = EchoClient.connect(port)) {
      app.awaitLog("uid " + uid + " is not allowed [" + other + "]", Duration.ofSeconds(10));
      assertTrue(app.log().matches(
          "(?s).*refusing link from proxy#1 \\(pid \\d+, uid " + uid + "\\).*"), app.log());
    }
  }

  /** The uid the daemons run as: this test's own. */
  private static int ownUid() throws java.io.IOException {
    return (Integer) java.nio.file.Files.getAttribute(java.nio.file.Path.of("/proc/self"),
        "unix:uid");
  }

  @Test
  void sigtermToTheProxyLeavesHandedOffConnectionsAlone() throws Exception {
    daemons.app(socketA);
    Daemon proxy = daemons.proxy(port, socketA);
    try (var s = EchoClient.connect(port)) {
      EchoClient.assertEchoes(s, "before".getBytes());
      stopped(proxy);
      EchoClient.assertEchoes(s, "after the proxy stopped".getBytes());
    }
  }
}
