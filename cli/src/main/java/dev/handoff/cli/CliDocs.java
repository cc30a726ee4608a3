package dev.handoff.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * Writes a command's bash completion script (picocli's, which zsh also loads through
 * bashcompinit), its man page and its Markdown reference, from the same picocli model as
 * {@code --help}. The build runs it for both commands (exec-maven-plugin, phase {@code package});
 * {@code scripts/cli-docs.sh} copies the Markdown into docs/CLI.md, and CliDocsIT fails when
 * docs/CLI.md no longer says what the commands do.
 *
 * <p>Usage: {@code CliDocs COMMAND-CLASS OUTPUT-DIR}, for a {@link CliCommand} with a public
 * no-argument constructor; writes {@code OUTPUT-DIR/NAME.bash}, {@code OUTPUT-DIR/NAME.1} and
 * {@code OUTPUT-DIR/NAME.md}.
 */
public final class CliDocs {
  private CliDocs() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      throw new IllegalArgumentException("usage: CliDocs COMMAND-CLASS OUTPUT-DIR");
    }
    CliCommand command = (CliCommand) Class.forName(args[0]).getDeclaredConstructor().newInstance();
    CommandLine cmd = new CommandLine(command.spec());
    Path dir = Files.createDirectories(Path.of(args[1]));
    String name = cmd.getCommandName();
    Files.writeString(dir.resolve(name + ".bash"), AutoComplete.bash(name, cmd),
        StandardCharsets.UTF_8);
    Files.writeString(dir.resolve(name + ".1"), manPage(cmd.getCommandSpec()),
        StandardCharsets.UTF_8);
    Files.writeString(dir.resolve(name + ".md"), markdown(cmd.getCommandSpec()),
        StandardCharsets.UTF_8);
  }

  /** The command's reference in Markdown: synopsis, description, arguments, options, exit codes. */
  static String markdown(CommandSpec spec) {
    StringBuilder md = new StringBuilder();
    String synopsis = new CommandLine.Help(spec, CommandLine.Help.defaultColorScheme(
        CommandLine.Help.Ansi.OFF)).synopsis(0).stripTrailing();
    md.append("```\n").append(synopsis).append("\n```\n\n");
    for (String line : spec.usageMessage().description()) {
      md.append(line).append("\n\n");
    }
    md.append("| argument | meaning |\n|---|---|\n");
    for (PositionalParamSpec p : spec.positionalParameters()) {
      md.append("| `").append(p.paramLabel()).append("` | ")
          .append(cell(String.join(" ", p.description()))).append(" |\n");
    }
    md.append("\n| option | meaning |\n|---|---|\n");
    List<OptionSpec> options = new ArrayList<>(spec.options());
    options.sort(Comparator.comparing(o -> o.longestName().replaceFirst("^-+", "")));
    for (OptionSpec o : options) {
      StringBuilder names = new StringBuilder();
      for (String n : o.names()) {
        if (names.length() > 0) {
          names.append(", ");
        }
        names.append('`').append(o.negatable() ? n.replaceFirst("^--", "--[no-]") : n);
        if (o.arity().max() > 0) {
          names.append(' ').append(o.paramLabel());
        }
        names.append('`');
      }
      md.append("| ").append(names).append(" | ").append(cell(description(o))).append(" |\n");
    }
    md.append("\n| exit code | meaning |\n|---|---|\n");
    for (var entry : spec.usageMessage().exitCodeList().entrySet()) {
      md.append("| ").append(entry.getKey().trim()).append(" | ")
          .append(cell(entry.getValue())).append(" |\n");
    }
    return md.toString();
  }

  private static String description(OptionSpec o) {
    return String.join(" ", o.description())
        .replace("${DEFAULT-VALUE}", String.valueOf(o.defaultValueString()))
        .replace("${COMPLETION-CANDIDATES}", candidates(o));
  }

  /** Text in a Markdown table cell: no line breaks, no column separator. */
  private static String cell(String text) {
    return text.replace("\n", " ").replace("|", "\\|");
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
      String text = description(o);
      roff.append('\n').append(escape(text)).append('\n');
    }
    roff.append(".SH EXIT STATUS\n");
    for (var entry : spec.usageMessage().exitCodeList().entrySet()) {
      roff.append(".TP\n.B ").append(entry.getKey().trim()).append('\n')
          .append(escape(entry.getValue())).append('\n');
    }
    roff.append(".SH SEE ALSO\n.BR proxy (1),\n.BR app (1);\n")
        .append("docs/CLI.md and docs/PROTOCOL.md of the handoff project.\n");
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
