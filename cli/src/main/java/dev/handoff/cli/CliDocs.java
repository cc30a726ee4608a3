package dev.handoff.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * Writes a command's bash completion script (picocli's, which zsh also loads through
 * bashcompinit) and its man page, from the same picocli model as {@code --help}. The build runs it
 * for both commands (exec-maven-plugin, phase {@code package}).
 *
 * <p>Usage: {@code CliDocs COMMAND-CLASS OUTPUT-DIR}; writes {@code OUTPUT-DIR/NAME.bash} and
 * {@code OUTPUT-DIR/NAME.1}.
 */
public final class CliDocs {
  private CliDocs() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      throw new IllegalArgumentException("usage: CliDocs COMMAND-CLASS OUTPUT-DIR");
    }
    CommandLine cmd = new CommandLine(Class.forName(args[0]).getDeclaredConstructor().newInstance());
    Path dir = Files.createDirectories(Path.of(args[1]));
    String name = cmd.getCommandName();
    Files.writeString(dir.resolve(name + ".bash"), AutoComplete.bash(name, cmd),
        StandardCharsets.UTF_8);
    Files.writeString(dir.resolve(name + ".1"), manPage(cmd.getCommandSpec()),
        StandardCharsets.UTF_8);
  }

  /** The man page in roff (man(7) macros). */
  static String manPage(CommandSpec spec) throws IOException {
    StringBuilder roff = new StringBuilder();
    String version = spec.version().length > 0 ? spec.version()[0] : "";
    roff.append(".TH ").append(spec.name().toUpperCase()).append(" 1 \"\" \"")
        .append(escape(version)).append("\" \"handoff\"\n");
    roff.append(".SH NAME\n").append(spec.name()).append(" \\- ")
        .append(escape(firstSentence(spec.usageMessage().description()))).append('\n');
    roff.append(".SH SYNOPSIS\n.B ").append(spec.name()).append("\n[\\fIOPTIONS\\fR]");
    for (PositionalParamSpec p : spec.positionalParameters()) {
      roff.append(" \\fI").append(escape(p.paramLabel())).append("\\fR");
    }
    roff.append("\n.SH DESCRIPTION\n");
    for (String line : spec.usageMessage().description()) {
      roff.append(escape(line)).append("\n.PP\n");
    }
    roff.append(".SH ARGUMENTS\n");
    for (PositionalParamSpec p : spec.positionalParameters()) {
      roff.append(".TP\n.I ").append(escape(p.paramLabel())).append('\n')
          .append(escape(String.join(" ", p.description()))).append('\n');
    }
    roff.append(".SH OPTIONS\n");
    for (OptionSpec o : spec.options()) {
      roff.append(".TP\n.B ").append(escape(String.join(", ", o.names())));
      if (o.arity().max() > 0) {
        roff.append(" \\fI").append(escape(o.paramLabel())).append("\\fR");
      }
      String text = String.join(" ", o.description())
          .replace("${DEFAULT-VALUE}", String.valueOf(o.defaultValueString()))
          .replace("${COMPLETION-CANDIDATES}", candidates(o));
      roff.append('\n').append(escape(text)).append('\n');
    }
    roff.append(".SH EXIT STATUS\n");
    for (var entry : spec.usageMessage().exitCodeList().entrySet()) {
      roff.append(".TP\n.B ").append(entry.getKey().trim()).append('\n')
          .append(escape(entry.getValue())).append('\n');
    }
    roff.append(".SH SEE ALSO\n.BR proxy (1),\n.BR app (1);\n")
        .append("the README and docs/PROTOCOL.md of the handoff project.\n");
    return roff.toString();
  }

  private static String candidates(OptionSpec o) {
    if (o.completionCandidates() == null) {
      return "";
    }
    return String.join(", ", o.completionCandidates());
  }

  private static String firstSentence(String[] description) {
    String text = description.length == 0 ? "" : description[0];
    int dot = text.indexOf(". ");
    return dot < 0 ? text : text.substring(0, dot + 1);
  }

  /** Escapes what roff would otherwise read as requests or escapes. */
  private static String escape(String text) {
    String out = text.replace("\\", "\\e").replace("-", "\\-");
    return out.startsWith(".") || out.startsWith("'") ? "\\&" + out : out;
  }
}
