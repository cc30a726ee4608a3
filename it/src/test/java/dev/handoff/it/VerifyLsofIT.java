package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** scripts/verify-lsof.sh, the seed's check by hand, run as a user would. */
@Timeout(120)
class VerifyLsofIT {
  @Test
  void verifyLsofScriptPasses() throws Exception {
    Process p = new ProcessBuilder(Daemon.ROOT.resolve("scripts/verify-lsof.sh").toString())
        .redirectErrorStream(true)
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(90, TimeUnit.SECONDS), output);
    assertEquals(0, p.exitValue(), output);
    assertTrue(output.strip().endsWith("PASS"), output);
  }
}
