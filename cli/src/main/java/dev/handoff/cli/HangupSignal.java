package dev.handoff.cli;

import sun.misc.Signal;

/**
 * SIGHUP, which daemon users send to reload a configuration and which must never drop a
 * connection. Without a handler the JVM exits at once with status 129; with this one the process
 * runs {@code onHangup} (on the JVM's signal thread) and carries on.
 */
public final class HangupSignal {
  private HangupSignal() {}

  /** Runs {@code onHangup} at every SIGHUP instead of exiting. */
  public static void install(Runnable onHangup) {
    Signal.handle(new Signal("HUP"), s -> onHangup.run());
  }
}
