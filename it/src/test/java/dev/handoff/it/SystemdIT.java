package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXDatagramChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** What systemd does to the daemons, done without systemd. */
@Timeout(120)
class SystemdIT {
  @TempDir Path dir;

  @Test
  void theProxyServesOnASocketPassedInAsSystemdWould(TestInfo test) throws Exception {
    Path socket = dir.resolve("pipe.sock");
    int port = EchoClient.freePort();
    try (DaemonSet daemons = new DaemonSet(test)) {
      daemons.app(socket);
      String activate = Daemon.ROOT.resolve("scripts/socket-activate.pl") + " 127.0.0.1:" + port;
      // PORT 1 on the command line is ignored: the socket passed in decides.
      Daemon proxy = daemons.startWithEnv(Map.of(Daemon.WRAPPER, activate), "proxy", "1",
          socket.toString());
      proxy.awaitLog("(socket passed in by systemd)", Duration.ofSeconds(20));
      for (int i = 0; i < 10; i++) {
        EchoClient.echoOnce(port, ("activated " + i).getBytes());
      }
      proxy.terminate();
      assertEquals(0, proxy.awaitExit(Duration.ofSeconds(10)), proxy.log());
    }
  }

  @Test
  void bothReportReadinessAndStoppingWithSdNotify(TestInfo test) throws Exception {
    Path socket = dir.resolve("pipe.sock");
    Path notify = dir.resolve("notify.sock");
    int port = EchoClient.freePort();
    try (DaemonSet daemons = new DaemonSet(test);
        AFUNIXDatagramChannel systemd = fakeSystemd(notify, 20_000)) {
      Map<String, String> env = Map.of("NOTIFY_SOCKET", notify.toString());
      Daemon app = daemons.startWithEnv(env, "app", socket.toString());
      String ready = receive(systemd);
      assertTrue(ready.startsWith("READY=1\n") && ready.contains("MAINPID=" + app.pid()), ready);
      Daemon proxy = daemons.startWithEnv(env, "proxy", Integer.toString(port),
          socket.toString());
      String proxyReady = receive(systemd);
      assertTrue(proxyReady.contains("MAINPID=" + proxy.pid()), proxyReady);
      EchoClient.echoOnce(port, "ready means ready".getBytes());
      proxy.terminate();
      assertEquals("STOPPING=1", receive(systemd));
      assertEquals(0, proxy.awaitExit(Duration.ofSeconds(10)), proxy.log());
    }
  }

  /**
   * A reload under systemd's notification protocol: after SIGHUP the old proxy hands over to its
   * successor and, before it exits, sends {@code MAINPID=<the successor's pid>} (so systemd follows
   * the new main process instead of killing it); the successor reports READY=1 itself; the old
   * proxy sends no STOPPING=1 (the service is not stopping), the successor does when it stops.
   */
  @Test
  void aReloadedProxyNamesItsSuccessorAsTheMainProcess(TestInfo test) throws Exception {
    Path socket = dir.resolve("pipe.sock");
    Path notify = dir.resolve("notify.sock");
    Path control = dir.resolve("proxy.ctl");
    int port = EchoClient.freePort();
    try (DaemonSet daemons = new DaemonSet(test);
        AFUNIXDatagramChannel systemd = fakeSystemd(notify, 30_000)) {
      daemons.app(socket); // not notifying: only the proxies' messages arrive
      Daemon proxy = daemons.startWithEnv("NOTIFY_SOCKET", notify.toString(), "proxy",
          "--control", control.toString(), Integer.toString(port), socket.toString());
      assertTrue(receive(systemd).contains("MAINPID=" + proxy.pid()));
      proxy.signal("HUP");
      Daemon next = daemons.successor(proxy, 1);
      assertEquals(0, proxy.awaitExit(Duration.ofSeconds(30)), proxy.log());
      java.util.List<String> messages = java.util.List.of(receive(systemd), receive(systemd));
      assertTrue(messages.contains("MAINPID=" + next.pid()), messages + "\n" + proxy.log());
      assertTrue(messages.stream().anyMatch(m -> m.startsWith("READY=1\n")
          && m.contains("MAINPID=" + next.pid())), messages.toString());
      EchoClient.echoOnce(port, "served by the successor".getBytes());
      next.terminate();
      assertEquals("STOPPING=1", receive(systemd), "the next message is the successor's");
      next.awaitGone(Duration.ofSeconds(15));
    }
  }

  /** A datagram socket at {@code notify} for the daemons' sd_notify messages, as systemd's. */
  private static AFUNIXDatagramChannel fakeSystemd(Path notify, int timeoutMillis)
      throws java.io.IOException {
    AFUNIXDatagramChannel systemd = AFUNIXDatagramChannel.open();
    try {
      systemd.bind(AFUNIXSocketAddress.of(notify));
      systemd.socket().setSoTimeout(timeoutMillis);
      return systemd;
    } catch (java.io.IOException | RuntimeException e) {
      systemd.close();
      throw e;
    }
  }

  private static String receive(AFUNIXDatagramChannel channel) throws Exception {
    ByteBuffer buf = ByteBuffer.allocate(4096);
    channel.receive(buf);
    return new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8);
  }
}
