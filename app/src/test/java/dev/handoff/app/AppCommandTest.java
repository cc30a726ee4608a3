package dev.handoff.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.cli.UsageErrorHandler;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
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
        "--max-unsent", "--drain-timeout", "--log-level", "--no-plain", "--take-over-timeout",
        "--ready-command"}) {
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

  /** What the command line sets, read as the command reads it (nothing is started). */
  private static AppCommand parsed(String... args) {
    AppCommand command = new AppCommand();
    new CommandLine(command.spec()).parseArgs(args);
    return command;
  }

  @Test
  void takeOverTimeoutAndReadyCommandAreReadAndDefaultToTenSecondsAndNone() {
    AppCommand defaults = parsed("a.sock");
    assertEquals(Duration.ofSeconds(10), defaults.takeOverTimeout.getValue());
    assertNull(defaults.readyCommand.getValue());
    AppCommand set = parsed("--take-over-timeout", "45s", "--take-over", "--ready-command",
        "curl -fs http://127.0.0.1:9100/metrics", "a.sock");
    assertEquals(Duration.ofSeconds(45), set.takeOverTimeout.getValue());
    assertEquals("curl -fs http://127.0.0.1:9100/metrics", set.readyCommand.getValue());
  }

  @Test
  void aTakeOverTimeoutThatIsNotADurationOrIsZeroIsAUsageError() {
    assertUsageError("is not a duration", "--take-over-timeout", "soon",
        dir.resolve("a.sock").toString());
    assertUsageError("--take-over-timeout must be more than 0", "--take-over-timeout", "0",
        dir.resolve("a.sock").toString());
  }

  @Test
  void aReadyCommandWithoutTakeOverIsAUsageError() {
    assertUsageError("--ready-command applies with --take-over only", "--ready-command", "true",
        dir.resolve("a.sock").toString());
  }

  @Test
  void badModeIsAUsageError() {
    assertUsageError("not an octal mode", "--socket-mode", "rw-rw----",
        dir.resolve("a.sock").toString());
  }
}
