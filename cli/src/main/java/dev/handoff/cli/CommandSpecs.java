package dev.handoff.cli;

import java.time.Duration;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.UsageMessageSpec;

/**
 * Builds a command's picocli model in code, with picocli's own builders, instead of having picocli
 * read it from annotations. picocli reads an annotation through a dynamic proxy, and the JVM
 * generates one proxy class per annotation type at every start. Neither Java 17's class-data
 * archive nor Java 25's AOT cache holds such classes: on Java 25 they took about 140 ms of an
 * {@code app --take-over}'s start, on its main thread (docs/JVM-OPTIONS.md).
 */
public final class CommandSpecs {
  private CommandSpecs() {}

  /**
   * The model of the command {@code name} that {@code command} runs, with the description's
   * paragraphs; picocli reads no annotation of {@code command}.
   */
  public static CommandSpec command(String name, CliCommand command, String... description) {
    CommandSpec spec = CommandSpec.wrapWithoutInspection(command);
    spec.name(name);
    spec.usageMessage().description(description);
    return spec;
  }

  /**
   * An option whose value is a duration such as {@code 500ms}, {@code 10s} or {@code 2m} ({@link
   * DurationConverter}), shown as {@code DURATION}.
   */
  public static OptionSpec.Builder duration(String name) {
    return OptionSpec.builder(name).paramLabel("DURATION").type(Duration.class)
        .converters(new DurationConverter());
  }

  /**
   * Ends the model: {@code -h, --help} and {@code -V, --version} (the version in the jar's
   * manifest), as picocli's {@code mixinStandardHelpOptions} adds them, then the exit codes, each
   * written {@code "CODE:meaning"}.
   */
  public static CommandSpec finish(CommandSpec spec, String... exitCodes) {
    spec.addOption(OptionSpec.builder("-h", "--help").usageHelp(true)
        .description("Show this help message and exit.").build());
    spec.addOption(OptionSpec.builder("-V", "--version").versionHelp(true)
        .description("Print version information and exit.").build());
    spec.versionProvider(new ManifestVersionProvider(spec));
    spec.usageMessage().exitCodeListHeading("%nExit codes:%n")
        .exitCodeList(UsageMessageSpec.keyValuesMap(exitCodes));
    return spec;
  }
}
