package dev.handoff.cli;

/** Exit codes of both commands; documented in each command's help and in docs/CLI.md. */
public final class ExitCodes {
  /** Stopped by SIGTERM or SIGINT after an orderly shutdown. */
  public static final int OK = 0;
  /** A failure at run time, such as the port being taken. */
  public static final int FAILURE = 1;
  /** A usage error: an unknown option or an argument out of range. Nothing was started. */
  public static final int USAGE = 2;
  /** app only: another app is live on the socket path; it was left alone. */
  public static final int SOCKET_IN_USE = 3;

  private ExitCodes() {}

  /** The help section listing these, for picocli's {@code exitCodeList}. */
  public static final String[] LIST = {
    "0:stopped by SIGTERM or SIGINT after an orderly shutdown",
    "1:failure at run time (see the log)",
    "2:usage error (bad option or argument; nothing started)",
  };
}
