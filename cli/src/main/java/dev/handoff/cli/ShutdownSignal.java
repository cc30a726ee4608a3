package dev.handoff.cli;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * Turns SIGTERM and SIGINT into a latch the main thread waits on.
 *
 * <p>Why not a shutdown hook: the JVM exits with status 143 after a SIGTERM even when its hooks
 * succeed, and a hook may not call {@code System.exit}. With the signals handled here, the main
 * thread shuts down in order and returns 0.
 */
public final class ShutdownSignal {
  private static final Logger log = LoggerFactory.getLogger(ShutdownSignal.class);
  private final CountDownLatch received = new CountDownLatch(1);

  /** Installs the handlers; a second signal while shutting down is logged and otherwise ignored. */
  public static ShutdownSignal install() {
    ShutdownSignal signal = new ShutdownSignal();
    for (String name : new String[] {"TERM", "INT"}) {
      Signal.handle(new Signal(name), s -> {
        log.info("SIG{} received: shutting down", s.getName());
        signal.received.countDown();
      });
    }
    return signal;
  }

  /** Blocks until a signal arrives. */
  public void await() throws InterruptedException {
    received.await();
  }

  /** Blocks until a signal arrives or the time is up; returns whether a signal arrived. */
  public boolean await(long time, TimeUnit unit) throws InterruptedException {
    return received.await(time, unit);
  }

  /** Starts a shutdown without a signal, as the tests and a fatal error do. */
  public void trigger() {
    received.countDown();
  }
}
