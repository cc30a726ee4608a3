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

/**
 * The completion scripts, man pages and Markdown references the build writes for both commands
 * from their own definitions, and docs/CLI.md, which must say what they say.
 */
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

  @Test
  void docsCliMdSaysWhatTheCommandsDefine() throws Exception {
    String doc = Files.readString(Daemon.ROOT.resolve("docs/CLI.md"));
    for (String role : new String[] {"proxy", "app"}) {
      String generated =
          Files.readString(Daemon.ROOT.resolve(role + "/target/cli/" + role + ".md"));
      String begin = "<!-- BEGIN generated: " + role + " ";
      String end = "<!-- END generated: " + role + " -->";
      int from = doc.indexOf(begin);
      int to = doc.indexOf(end);
      assertTrue(from >= 0 && to > from, "docs/CLI.md has a generated part for " + role);
      String written = doc.substring(doc.indexOf("-->\n", from) + 4, to).strip();
      assertEquals(generated.strip(), written, "docs/CLI.md no longer says what " + role
          + " defines (options, defaults, exit codes): run scripts/cli-docs.sh after"
          + " mvn -DskipTests package, and commit docs/CLI.md");
      assertTrue(written.contains("`--log-level LEVEL`") && written.contains("| 2 |"), written);
    }
  }
}
