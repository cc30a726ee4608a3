package dev.handoff.cli;

import sun.misc.Signal;

/** SIGUSR1 logs a one-line summary of a running process: {@code kill -USR1 PID}. */
public final class StatusSignal {
  private StatusSignal() {}

  /** Runs {@code report} (on the JVM's signal thread) at every SIGUSR1. */
  public static void install(Runnable report) {
    Signal.handle(new Signal("USR1"), s -> report.run());
  }
}
