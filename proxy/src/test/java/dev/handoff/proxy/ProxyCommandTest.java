package dev.handoff.proxy;

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
class ProxyCommandTest {
  @TempDir Path dir;
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private int run(String... args) {
    CommandLine cmd = UsageErrorHandler.commandLine(new ProxyCommand());
    cmd.setOut(new PrintWriter(out));
    cmd.setErr(new PrintWriter(err));
    return cmd.execute(args);
  }

  @Test
  void helpShowsEveryOptionWithItsDefaultAndTheExitCodes() {
    assertEquals(0, run("--help"));
    String help = out.toString();
    for (String option : new String[] {"--bind", "--backlog", "--queue-size", "--queue-wait",
        "--retry-min", "--retry-max", "--hold-copy", "--shutdown-grace", "--log-level",
        "--control", "--control-uid", "--take-over"}) {
      assertTrue(help.contains(option), option + " is documented:\n" + help);
    }
    assertTrue(help.contains("Default: 10s"), "durations show as typed:\n" + help);
    assertTrue(help.contains("Default: 0.0.0.0"), help);
    assertTrue(help.contains("Exit codes:") && help.contains("2   usage error"), help);
  }

  @Test
  void badProxyProtocolRangesAreUsageErrorsNamingTheOption() {
    String socket = dir.resolve("p.sock").toString();
    for (String bad : new String[] {"10.0.0.0/33", "10.0.0.1/8", "example.com", "::1/129",
        "10.0.0/8", "10.0.0.0/", "2001:db8::/x"}) {
      assertUsageError("--proxy-protocol-from", "--proxy-protocol-from", bad, "1987", socket);
    }
    assertUsageError("--proxy-protocol-timeout must be more than 0", "--proxy-protocol-from",
        "127.0.0.1", "--proxy-protocol-timeout", "0", "1987", socket);
    assertEquals(0, run("--help"));
    assertTrue(out.toString().contains("--proxy-protocol-from")
        && out.toString().contains("--proxy-protocol-timeout"), out.toString());
  }

  @Test
  void versionNamesTheCommand() {
    assertEquals(0, run("--version"));
    assertTrue(out.toString().startsWith("proxy "), out.toString());
  }

  private void assertUsageError(String expected, String... args) {
    err.getBuffer().setLength(0);
    assertEquals(2, run(args), err.toString());
    String message = err.toString().strip();
    assertEquals(1, message.lines().count(), "a usage error is one line: " + message);
    assertTrue(message.startsWith("proxy: ") && message.contains(expected), message);
  }

  @Test
  void takeOverNeedsAUsableControlPath() {
    String socket = dir.resolve("p.sock").toString();
    assertUsageError("--take-over needs --control PATH", "--take-over", "1987", socket);
    assertUsageError("--control: socket directory", "--control",
        dir.resolve("missing/ctl.sock").toString(), "1987", socket);
  }

  @Test
  void aConfigFileTakesControlAndTakeOverOnTheCommandLine() throws Exception {
    Path config = dir.resolve("proxy.yaml");
    java.nio.file.Files.writeString(config, "listeners:\n  - listen: 127.0.0.1:8080\n"
        + "    routes:\n      - match: default\n        apps: [" + dir.resolve("a.sock") + "]\n"
        + "  - listen: 8081\n    routes:\n      - match: default\n        apps: ["
        + dir.resolve("b.sock") + "]\n");
    String control = dir.resolve("ctl.sock").toString();
    assertEquals(0, run("--config", config.toString(), "--control", control, "--take-over",
        "--check-config"), err.toString());
    assertTrue(out.toString().contains("configuration OK: 2 listeners"), out.toString());
    assertUsageError("--take-over needs --control PATH", "--config", config.toString(),
        "--take-over");
    assertUsageError("--control: socket directory", "--config", config.toString(), "--control",
        dir.resolve("missing/ctl.sock").toString());
  }

  /** The configuration the command line makes, read as the command reads it (nothing starts). */
  private ProxyConfig configured(String... args) {
    ProxyCommand command = new ProxyCommand();
    new CommandLine(command.spec()).parseArgs(args);
    return command.options.configurations().get(0);
  }

  @Test
  void optionsReachTheConfigurationWithTheirDefaultsWhenLeftOut() {
    String socket = dir.resolve("p.sock").toString();
    ProxyConfig defaults = configured("1987", socket);
    assertEquals(1987, defaults.listen().port());
    assertEquals(1024, defaults.listen().backlog());
    assertTrue(defaults.peek().deferAccept());
    assertEquals(16 * 1024, defaults.peek().maxBytes());
    assertEquals(java.time.Duration.ofSeconds(2), defaults.shutdownGrace());
    assertTrue(!defaults.plainProtocol() && !defaults.proxyProtocol().on());
    ProxyConfig set = configured("--no-peek-defer-accept", "--backlog", "7", "--protocol",
        "plain", "--proxy-protocol-from", "10.0.0.0/8", "--shutdown-grace", "250ms", "1987",
        socket, dir.resolve("q.sock").toString());
    assertTrue(!set.peek().deferAccept());
    assertEquals(7, set.listen().backlog());
    assertTrue(set.plainProtocol() && set.proxyProtocol().on());
    assertEquals(java.time.Duration.ofMillis(250), set.shutdownGrace());
    assertEquals(2, set.routes().fallback().sockets().size());
  }

  @Test
  void portOutOfRangeIsAUsageError() {
    String socket = dir.resolve("p.sock").toString();
    assertUsageError("port 0 is out of range", "0", socket);
    assertUsageError("port 65536 is out of range", "65536", socket);
  }

  @Test
  void notANumberIsAUsageError() {
    assertUsageError("PORT", "http", dir.resolve("p.sock").toString());
  }

  @Test
  void socketPathOver107BytesIsAUsageError() {
    assertUsageError("the limit is 107", "1987", dir.resolve("s".repeat(120)).toString());
  }

  @Test
  void missingSocketDirectoryIsAUsageError() {
    assertUsageError("does not exist", "1987", dir.resolve("nowhere/p.sock").toString());
  }

  @Test
  void badDurationIsAUsageError() {
    assertUsageError("not a duration", "--queue-wait", "soon", "1987",
        dir.resolve("p.sock").toString());
  }

  @Test
  void unknownProtocolIsAUsageError() {
    assertUsageError("neither 'handoff' nor 'plain'", "--protocol", "hoff", "1987",
        dir.resolve("p.sock").toString());
  }

  @Test
  void missingArgumentsAreAUsageError() {
    assertUsageError("give PORT and SOCKET (or --route RULE=SOCKET), or --config FILE");
    assertUsageError("no app socket: give at least one SOCKET or --route RULE=SOCKET", "8080");
  }
}
