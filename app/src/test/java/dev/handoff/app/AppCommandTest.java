package dev.handoff.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.cli.UsageErrorHandler;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The command line as a user meets it: help, version, and one-line usage errors with status 2. */
class AppCommandTest {
  @TempDir Path dir;
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private int run(String... args) {
    CommandLine cmd = UsageErrorHandler.commandLine(new AppCommand());
    cmd.setOut(new PrintWriter(out));
    cmd.setErr(new PrintWriter(err));
    return cmd.execute(args);
  }

  @Test
  void helpShowsEveryOptionWithItsDefaultAndTheExitCodes() {
    assertEquals(0, run("--help"));
    String help = out.toString();
    for (String option : new String[] {"--socket-mode", "--max-links", "--io-threads",
        "--max-unsent", "--drain-timeout", "--log-level", "--no-plain"}) {
      assertTrue(help.contains(option), option + " is documented:\n" + help);
    }
    assertTrue(help.contains("Default: 0600"), help);
    assertTrue(help.contains("3   another app is listening"), help);
  }

  @Test
  void versionNamesTheCommand() {
    assertEquals(0, run("--version"));
    assertTrue(out.toString().startsWith("app "), out.toString());
  }

  private void assertUsageError(String expected, String... args) {
    err.getBuffer().setLength(0);
    assertEquals(2, run(args), err.toString());
    String message = err.toString().strip();
    assertEquals(1, message.lines().count(), "a usage error is one line: " + message);
    assertTrue(message.startsWith("app: ") && message.contains(expected), message);
  }

  @Test
  void socketPathOver107BytesIsAUsageError() {
    assertUsageError("the limit is 107", dir.resolve("s".repeat(120)).toString());
  }

  @Test
  void missingSocketDirectoryIsAUsageError() {
    assertUsageError("does not exist", dir.resolve("nowhere/a.sock").toString());
  }

  @Test
  void badModeIsAUsageError() {
    assertUsageError("not an octal mode", "--socket-mode", "rw-rw----",
        dir.resolve("a.sock").toString());
  }
}
