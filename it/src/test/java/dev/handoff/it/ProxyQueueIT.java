package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The proxy with no app, or an app elsewhere: bounded waiting, addresses, shutdown. */
@Timeout(120)
class ProxyQueueIT extends DaemonTest {

  /** True once the proxy has closed the connection (EOF or reset) within the socket timeout. */
  private static boolean closedByProxy(Socket s) {
    try {
      return s.getInputStream().read() == -1;
    } catch (IOException e) {
      return !(e instanceof java.net.SocketTimeoutException);
    }
  }

  @Test
  void aFullQueuePausesAcceptingAndEveryConnectionPastItsWaitIsClosedAndCounted()
      throws Exception {
    Daemon proxy = daemons.proxy(port, socket, "--queue-size", "2", "--queue-wait", "1s");
    try (Socket warmUp = EchoClient.connect(port)) {
      assertTrue(closedByProxy(warmUp), "a connection that waited too long is closed");
    }
    int baseline = proxy.settledFds(); // after the first link attempt loaded junixsocket
    List<Socket> clients = new ArrayList<>();
    try {
      for (int i = 0; i < 5; i++) {
        Socket s = EchoClient.connect(port);
        s.setSoTimeout(10_000);
        clients.add(s);
      }
      for (Socket s : clients) {
        assertTrue(closedByProxy(s), "every connection that cannot be handed off is closed");
      }
      assertEquals(baseline, proxy.awaitFds(baseline, Duration.ofSeconds(5)),
          "the proxy holds nothing for the connections it closed");
      proxy.terminate();
      assertEquals(0, proxy.awaitExit(Duration.ofSeconds(10)), proxy.log());
      String log = proxy.log();
      assertTrue(log.contains("accepted=6 ") && log.contains("handed-off=0"), log);
      assertTrue(log.contains("dropped-expired=6"), log);
      assertTrue(log.contains("accepting paused"), "one waits at the dispatcher, two in the"
          + " queue, and the rest wait in the kernel backlog:\n" + log);
      assertTrue(log.contains("accepting again"), log);
    } finally {
      for (Socket s : clients) {
        s.close();
      }
    }
  }

  @Test
  void sigtermClosesWhatCannotBeHandedOffAndExitsZero() throws Exception {
    Daemon proxy = daemons.proxy(port, socket, "--shutdown-grace", "500ms");
    try (Socket waiting = EchoClient.connect(port)) {
      proxy.awaitLog("app not reachable", Duration.ofSeconds(10));
      proxy.terminate();
      assertEquals(0, proxy.awaitExit(Duration.ofSeconds(10)), proxy.log());
      assertTrue(closedByProxy(waiting), "the waiting client is closed, not left hanging");
      assertTrue(proxy.log().contains("dropped-at-shutdown=1"), proxy.log());
    }
  }

  @Test
  void bindsIpv6AndHandsTheIpv6AddressesToTheApp() throws Exception {
    Daemon app = daemons.app(socket, "--log-level", "debug");
    daemons.proxy(port, socket, "--bind", "::1");
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("::1", port), 5_000);
      s.setSoTimeout(10_000);
      EchoClient.assertEchoes(s, "over IPv6".getBytes());
    }
    app.awaitLog("c1 /[0:0:0:0:0:0:0:1]:", Duration.ofSeconds(5));
    assertTrue(app.log().contains("-> /[0:0:0:0:0:0:0:1]:" + port), app.log());
  }

  @Test
  void aTakenPortIsARunTimeFailure() throws Exception {
    try (java.net.ServerSocket taken = new java.net.ServerSocket()) {
      taken.bind(new InetSocketAddress("0.0.0.0", port));
      Daemon proxy = daemons.start("proxy", Integer.toString(port), socket.toString());
      assertEquals(1, proxy.awaitExit(Duration.ofSeconds(20)), proxy.log());
      assertTrue(proxy.log().contains("listen on"), proxy.log());
    }
  }
}
