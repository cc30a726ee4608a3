package dev.handoff.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Micrometer is an optional dependency: a server without a meter registry binds and serves in a
 * JVM whose class path lacks micrometer-core.
 */
@Timeout(120)
class WithoutMicrometerTest {
  @TempDir Path dir;

  @Test
  void aServerBindsAndServesWithoutMicrometerOnTheClassPath() throws Exception {
    List<String> kept = new ArrayList<>();
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      if (!entry.contains("micrometer")) {
        kept.add(entry);
      }
    }
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder(java,
        "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
        "-cp", String.join(File.pathSeparator, kept),
        WithoutMicrometerMain.class.getName(), dir.resolve("app.sock").toString())
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), out);
    assertEquals(0, p.exitValue(), out);
    assertTrue(out.lines().anyMatch(l -> l.startsWith("OK ")), out);
  }
}
