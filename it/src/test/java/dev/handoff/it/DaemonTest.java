package dev.handoff.it;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * What most integration tests start from: a socket path in a fresh directory, a free port, and
 * a set of daemons that is killed after each test whatever happened.
 */
abstract class DaemonTest {
  @TempDir Path dir;
  Path socket;
  int port;
  DaemonSet daemons;

  @BeforeEach
  void startClean(TestInfo test) throws IOException {
    socket = dir.resolve("pipe.sock");
    port = EchoClient.freePort();
    daemons = new DaemonSet(test);
  }

  @AfterEach
  void killWhatIsLeft() throws InterruptedException {
    daemons.close();
  }
}
