package dev.handoff.server;

import dev.handoff.common.Errors;
import dev.handoff.common.ReceivedHandoff;
import java.io.Closeable;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The connections a committed take-over moved here, given to the engine a slice at a time: the
 * first slice at once, each further one on a later turn of the event loop, so that the
 * connections already given are read and written between two slices instead of waiting until
 * thousands of others are set up. The previous app switched the busiest connections last and
 * they come first here, so that a client in the middle of an exchange is served again first.
 *
 * <p>Ownership: this object holds the descriptor of each connection not yet given to the engine;
 * a connection given is the engine's ({@link ConnectionSink#adopt}), one it refused is closed
 * here, and {@link #close} closes every one not given yet (the server closed, or its event loop
 * stopped, before the last slice).
 */
final class MovedIn implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(MovedIn.class);
  /** Connections given to the engine per turn of the event loop. */
  static final int SLICE = 32;

  private final List<ReceivedHandoff> held;
  private final ConnectionSink sink;
  private final LongAdder served;
  private final long committedAt = System.nanoTime();
  /**
   * The next connection to give; {@code held.size()} once all are given or closed. Guarded by
   * this.
   */
  private int next;
  /** Every connection given or closed: nothing more to do. Guarded by this. */
  private boolean closed;

  /**
   * @param held the connections, in the order to serve them; owned by this object from now on
   * @param served counts each connection the engine took
   */
  MovedIn(List<ReceivedHandoff> held, ConnectionSink sink, LongAdder served) {
    this.held = held;
    this.sink = sink;
    this.served = served;
  }

  /**
   * Gives the first slice to the engine now, on the calling thread, and each further slice on a
   * later turn of {@code later} (a task scheduled without delay, which an event loop runs after
   * its next wait for I/O); with {@code later} null, gives them all now.
   */
  void start(ScheduledExecutorService later) {
    while (serveSlice()) {
      if (later != null) {
        try {
          later.schedule(() -> start(later), 0, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
          log.warn("the event loop stopped before every moved connection was served; closing the"
              + " rest: {}", Errors.describe(e));
          close();
        }
        return;
      }
    }
  }

  /** Gives the next slice to the engine; returns whether more are left. */
  private synchronized boolean serveSlice() {
    if (closed) {
      return false;
    }
    int end = Math.min(held.size(), next + SLICE);
    for (; next < end; next++) {
      serve(held.get(next), sink, served);
    }
    if (next < held.size()) {
      return true;
    }
    closed = true;
    if (!held.isEmpty()) {
      log.info("gave the {} moved connections to the event loops in {} ms", served.sum(),
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - committedAt));
    }
    return false;
  }

  /**
   * Gives one moved connection to {@code sink}, counting it in {@code served} if taken; closes
   * it if not.
   */
  static void serve(ReceivedHandoff handoff, ConnectionSink sink, LongAdder served) {
    try {
      if (sink.adopt(handoff, cause -> {
        if (cause != null) {
          log.warn("{}: cannot serve the moved connection: {}", handoff.header(),
              Errors.describe(cause));
        }
      })) {
        served.increment();
      } else {
        log.warn("{}: already served here; closing this copy", handoff.header());
      }
    } catch (IOException | RuntimeException e) {
      log.warn("{}: cannot serve the moved connection: {}", handoff.header(), Errors.describe(e));
    } finally {
      handoff.close(); // nothing if the sink took it
    }
  }

  /** Closes every connection not given to the engine yet; safe to call again. */
  @Override
  public synchronized void close() {
    closed = true;
    for (; next < held.size(); next++) {
      held.get(next).close();
    }
  }
}
