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

/** The completion scripts and man pages the build writes for both commands. */
@Timeout(60)
class CliDocsIT {
  private static String bash(String script) throws Exception {
    Process p = new ProcessBuilder("bash", "-c", script).redirectErrorStream(true)
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out);
    return out;
  }

  @Test
  void bashCompletesTheOptionsOfBothCommands() throws Exception {
    for (String[] c : new String[][] {{"proxy", "--que", "--queue-size"},
        {"app", "--drain", "--drain-timeout"}}) {
      Path script = Daemon.ROOT.resolve(c[0] + "/target/cli/" + c[0] + ".bash");
      String out = bash("source " + script + "; COMP_WORDS=(" + c[0] + " " + c[1] + ");"
          + " COMP_CWORD=1; COMP_LINE='" + c[0] + " " + c[1] + "'; _complete_" + c[0] + ";"
          + " echo \"${COMPREPLY[@]}\"");
      assertTrue(out.contains(c[2]), c[0] + " " + c[1] + "<TAB> offers " + c[2] + ": " + out);
    }
  }

  @Test
  void manPagesDocumentEveryOptionAndTheExitCodes() throws Exception {
    for (String role : new String[] {"proxy", "app"}) {
      String page = Files.readString(Daemon.ROOT.resolve(role + "/target/cli/" + role + ".1"));
      assertTrue(page.startsWith(".TH " + role.toUpperCase() + " 1"), page);
      for (String section : new String[] {".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS",
          ".SH EXIT STATUS"}) {
        assertTrue(page.contains(section), role + " has " + section);
      }
      assertTrue(page.contains("\\-\\-metrics") && page.contains("\\-\\-log\\-level"), page);
    }
  }
}
