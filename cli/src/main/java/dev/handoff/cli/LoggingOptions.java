package dev.handoff.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/** The {@code --log-level} option every command has. */
public final class LoggingOptions {
  /** Log levels a user may pick. */
  public enum LogLevel { ERROR, WARN, INFO, DEBUG, TRACE }

  private final OptionSpec level = OptionSpec.builder("--log-level").paramLabel("LEVEL")
      .type(LogLevel.class).initialValue(LogLevel.INFO)
      .description("Log level: ${COMPLETION-CANDIDATES}. DEBUG logs every connection."
          + " Default: ${DEFAULT-VALUE}.")
      .build();

  /** Adds the option to a command's model. */
  public LoggingOptions addTo(CommandSpec spec) {
    spec.addOption(level);
    return this;
  }

  /**
   * Applies the level read from the command line to the root logger; {@link LogConfigurator}
   * sends everything to standard error.
   */
  public void apply() {
    LogLevel chosen = level.getValue();
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    root.setLevel(Level.toLevel(chosen.name()));
  }
}
