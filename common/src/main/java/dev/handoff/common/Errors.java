package dev.handoff.common;

/** Turns exceptions into the short text that log lines and wrapped messages carry. */
public final class Errors {
  private Errors() {}

  /** The exception's message, or its type when it has none (some socket errors do not). */
  public static String describe(Throwable e) {
    return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
  }
}
