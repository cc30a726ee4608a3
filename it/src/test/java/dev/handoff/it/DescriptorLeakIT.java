package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Every descriptor either process opens for a connection is closed again. */
@Timeout(300)
class DescriptorLeakIT {
  @TempDir Path dir;

  @Test
  void tenThousandSequentialConnectionsLeaveBothProcessesAtTheirBaseline(TestInfo test)
      throws Exception {
    Path socket = dir.resolve("pipe.sock");
    int port = EchoClient.freePort();
    try (DaemonSet daemons = new DaemonSet(test)) {
      Daemon app = daemons.app(socket);
      Daemon proxy = daemons.proxy(port, socket);
      byte[] ping = "0123456789abcdef".getBytes();
      for (int i = 0; i < 200; i++) {
        EchoClient.echoOnce(port, ping); // warm-up: lazily opened files, thread pools
      }
      int appBaseline = app.settledFds();
      int proxyBaseline = proxy.settledFds();
      for (int i = 0; i < 10_000; i++) {
        EchoClient.echoOnce(port, ping);
      }
      assertEquals(appBaseline, app.awaitFds(appBaseline, Duration.ofSeconds(15)),
          "app descriptors after 10,000 connections\n" + app.log());
      for (int i = 0; i < 200; i++) {
        resetMidStream(port);
      }
      assertEquals(appBaseline, app.awaitFds(appBaseline, Duration.ofSeconds(15)),
          "app descriptors after 200 clients reset in the middle of a stream\n" + app.log());
      assertEquals(proxyBaseline, proxy.awaitFds(proxyBaseline, Duration.ofSeconds(15)),
          "proxy descriptors after 10,000 connections\n" + proxy.log());
    }
  }

  /** Streams without reading, then resets (SO_LINGER 0): the app is mid-echo when the RST comes. */
  private static void resetMidStream(int port) throws Exception {
    try (java.net.Socket s = EchoClient.connect(port)) {
      s.getOutputStream().write(new byte[256 * 1024]);
      s.setSoLinger(true, 0);
    }
  }
}
