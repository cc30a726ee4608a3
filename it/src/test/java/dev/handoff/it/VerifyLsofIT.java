package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * scripts/verify-lsof.sh, the check a user runs by hand, run as a user would: the app holds the
 * client's connection, the proxy holds nothing of it, and with --hold-copy both hold one socket.
 */
@Timeout(120)
class VerifyLsofIT {
  @TempDir Path dir;

  @Test
  void lsofSeesTheConnectionInTheAppAndNotInTheProxy() throws Exception {
    // The output goes to a file, so that the wait below is bounded whatever the script does.
    Path output = dir.resolve("verify-lsof.out");
    Process p = new ProcessBuilder(Daemon.ROOT.resolve("scripts/verify-lsof.sh").toString())
        .redirectErrorStream(true)
        .redirectOutput(output.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .start();
    boolean finished = p.waitFor(90, TimeUnit.SECONDS);
    if (!finished) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    String text = Files.readString(output, StandardCharsets.UTF_8);
    assertTrue(finished, "verify-lsof.sh did not finish within 90 s:\n" + text);
    assertEquals(0, p.exitValue(), text);
    assertTrue(!text.contains("FAILED") && text.strip().endsWith("PASS"), text);
  }
}
