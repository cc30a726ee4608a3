package dev.handoff.cli;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SocketPathsTest {
  @TempDir Path dir;

  @Test
  void acceptsAPathInAWritableDirectory() {
    assertNull(SocketPaths.problem(dir.resolve("pipe.sock"), true));
  }

  @Test
  void refusesAPathLongerThanSunPath() {
    Path tooLong = dir.resolve("x".repeat(SocketPaths.MAX_BYTES));
    String problem = SocketPaths.problem(tooLong, false);
    assertTrue(problem != null && problem.contains("limit is 107"), problem);
  }

  @Test
  void refusesAMissingDirectory() {
    String problem = SocketPaths.problem(dir.resolve("missing/pipe.sock"), false);
    assertTrue(problem != null && problem.contains("does not exist"), problem);
  }
}
