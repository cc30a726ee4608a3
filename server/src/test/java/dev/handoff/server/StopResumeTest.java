package dev.handoff.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Stopping and resuming the taking of handoffs, as a rolled-back take-over does. */
@Timeout(60)
class StopResumeTest {
  @TempDir Path dir;

  private static int openDescriptors() {
    String[] names = new File("/proc/self/fd").list();
    return names == null ? -1 : names.length;
  }

  /**
   * Each stop closes the listening socket under the acceptor blocked on it, and each resume
   * binds a new one: no descriptor is left behind, with no collection to close it. (junixsocket,
   * closing a server socket under a blocked accept, connects to it and leaves that socket to its
   * cleaner once the connect is refused.)
   */
  @Test
  void stoppingAndResumingLeavesNoDescriptorBehind() throws Exception {
    Path socket = dir.resolve("app.sock");
    HandoffServer server = TestConnections.echoingServer(1).bind(socket);
    try {
      server.stopTakingHandoffs(null);
      assertTrue(server.resumeTakingHandoffs());
      int baseline = openDescriptors();
      for (int i = 0; i < 10; i++) {
        server.stopTakingHandoffs(null);
        assertTrue(server.resumeTakingHandoffs(), "resumed " + i);
      }
      Await.until(Duration.ofSeconds(5), () -> openDescriptors() <= baseline,
          () -> openDescriptors() + " descriptors open, " + baseline + " before ten stops");
      assertEquals(baseline, openDescriptors());
    } finally {
      server.close();
    }
  }
}
