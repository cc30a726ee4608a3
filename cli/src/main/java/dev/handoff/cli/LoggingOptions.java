package dev.handoff.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

/** The {@code --log-level} option shared by both commands. */
public final class LoggingOptions {
  /** Log levels a user may pick. */
  public enum LogLevel { ERROR, WARN, INFO, DEBUG, TRACE }

  @Option(names = "--log-level", paramLabel = "LEVEL",
      description = "Log level: ${COMPLETION-CANDIDATES}. DEBUG logs every connection."
          + " Default: ${DEFAULT-VALUE}.")
  LogLevel level = LogLevel.INFO;

  /**
   * Applies the level to the root logger; {@link LogConfigurator} sends everything to standard
   * error.
   */
  public void apply() {
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    root.setLevel(Level.toLevel(level.name()));
  }
}
