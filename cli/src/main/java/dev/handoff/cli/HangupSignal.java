package dev.handoff.cli;

import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * SIGHUP, which daemon users send to reload a configuration and which must never drop a
 * connection. Without a handler the JVM exits at once with status 129; with this one the process
 * runs {@code onHangup} (on the JVM's signal thread) and carries on.
 */
public final class HangupSignal {
  private HangupSignal() {}

  /**
   * Runs {@code onHangup} at every SIGHUP instead of exiting, unless the process was started with
   * SIGHUP ignored (under {@code nohup}, or by a shell or CI runner that ignores it): the JVM then
   * leaves it ignored, and no SIGHUP ever reaches this process.
   *
   * @return whether SIGHUP now runs {@code onHangup}; false if it was ignored at start
   */
  public static boolean install(Runnable onHangup) {
    SignalHandler previous = Signal.handle(new Signal("HUP"), s -> onHangup.run());
    return previous != SignalHandler.SIG_IGN;
  }
}
