package dev.handoff.proxy.config;

import java.nio.file.Path;

/**
 * A configuration file that cannot be used, with where and why: the file, the line and column
 * (1-based, 0 when unknown), the field as a path from the top ({@code listeners[0].routes[1].match})
 * and what is wrong with it. {@link #getMessage()} reads {@code FILE:LINE:COLUMN: FIELD: PROBLEM},
 * the way compilers print errors, so that editors can jump to it.
 */
public final class ConfigException extends Exception {
  private static final long serialVersionUID = 1L;

  private final transient Path file;
  private final int line;
  private final int column;
  private final String field;
  private final String problem;

  ConfigException(Path file, int line, int column, String field, String problem) {
    super(file + (line > 0 ? ":" + line + ":" + column : "") + ": "
        + (field.isEmpty() ? "" : field + ": ") + problem);
    this.file = file;
    this.line = line;
    this.column = column;
    this.field = field;
    this.problem = problem;
  }

  /** The configuration file. */
  public Path file() {
    return file;
  }

  /** The line of the offending value, from 1; 0 when the file could not be read at all. */
  public int line() {
    return line;
  }

  /** The column of the offending value, from 1; 0 with {@link #line()}. */
  public int column() {
    return column;
  }

  /** The field, as a path from the top of the file; empty for the document itself. */
  public String field() {
    return field;
  }

  /** What is wrong, without the location. */
  public String problem() {
    return problem;
  }
}
