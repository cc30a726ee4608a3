package dev.handoff.proxy.accept;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How long an accepted connection may wait to be handed off, and what closing it then counts as:
 * {@code --queue-wait} after its accept it has expired; once a shutdown has begun, the end of the
 * grace period comes first and it is dropped at shutdown. One per sender: the dispatcher, or the
 * plain sender.
 */
public final class WaitLimit {
  private static final Logger log = LoggerFactory.getLogger(WaitLimit.class);

  private final long maxWaitNanos;
  private final ProxyStats stats;
  /** How log lines name what the connection waited for: "an app", "a plain receiver". */
  private final String receiver;
  private volatile long drainDeadlineNanos;
  private volatile boolean draining;

  public WaitLimit(Duration maxWait, ProxyStats stats, String receiver) {
    this.maxWaitNanos = maxWait.toNanos();
    this.stats = stats;
    this.receiver = receiver;
  }

  /** A shutdown has begun: no connection waits beyond {@code grace} from now. */
  public void drain(Duration grace) {
    drainDeadlineNanos = System.nanoTime() + grace.toNanos();
    draining = true;
  }

  public boolean draining() {
    return draining;
  }

  /** Whether a shutdown's grace period has run out. */
  public boolean graceOver() {
    return draining && System.nanoTime() - drainDeadlineNanos >= 0;
  }

  /** When {@code conn} must be handed off by (System.nanoTime). */
  public long deadlineFor(AcceptedConnection conn) {
    long expiry = conn.acceptedNanos() + maxWaitNanos;
    if (draining && drainDeadlineNanos - expiry < 0) {
      return drainDeadlineNanos;
    }
    return expiry;
  }

  /** Closes a connection whose deadline passed, counted as expired or dropped at shutdown. */
  public void drop(AcceptedConnection conn) {
    if (draining) {
      stats.droppedShutdown.increment();
      log.debug("{}: closed, shutting down before {} took it", conn, receiver);
    } else {
      stats.droppedExpired.increment();
      log.warn("{}: closed after waiting {} ms for {}", conn,
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - conn.acceptedNanos()), receiver);
    }
    conn.close();
  }
}
