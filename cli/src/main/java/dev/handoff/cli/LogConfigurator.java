package dev.handoff.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.spi.ContextAwareBase;
import org.slf4j.Logger;

/**
 * The daemons' logging set-up, in code rather than in a logback.xml: everything to standard error
 * as {@code 2026-11-30T14:36:57.899 INFO  [thread] Class: message}, Netty and junixsocket at WARN,
 * the rest at INFO until {@link LoggingOptions#apply()} sets the level from {@code --log-level}.
 * Logback finds it through {@code META-INF/services}. Reading an XML file instead loaded some 600
 * more classes (Joran and an XML parser) before the first log line, a large part of every start
 * and of a successor's time to take over ({@code app --take-over}, docs/PERFORMANCE.md).
 *
 * <p>A user's own file still wins: with {@code -Dlogback.configurationFile=FILE} (in JAVA_OPTS)
 * this configurator steps aside and logback reads that file.
 */
public final class LogConfigurator extends ContextAwareBase implements Configurator {
  /** The pattern of every log line. */
  static final String PATTERN =
      "%d{yyyy-MM-dd'T'HH:mm:ss.SSS} %-5level [%thread] %logger{0}: %msg%n";

  /** Made by logback's service loader. */
  public LogConfigurator() {}

  @Override
  public ExecutionStatus configure(LoggerContext context) {
    if (System.getProperty("logback.configurationFile") != null) {
      return ExecutionStatus.INVOKE_NEXT_IF_ANY;
    }
    PatternLayoutEncoder encoder = new PatternLayoutEncoder();
    encoder.setContext(context);
    encoder.setPattern(PATTERN);
    encoder.start();
    ConsoleAppender<ILoggingEvent> stderr = new ConsoleAppender<>();
    stderr.setContext(context);
    stderr.setName("STDERR");
    stderr.setTarget("System.err");
    stderr.setEncoder(encoder);
    stderr.start();
    context.getLogger("io.netty").setLevel(Level.WARN);
    context.getLogger("org.newsclub").setLevel(Level.WARN);
    ch.qos.logback.classic.Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
    root.setLevel(Level.INFO);
    root.addAppender(stderr);
    return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
  }
}
