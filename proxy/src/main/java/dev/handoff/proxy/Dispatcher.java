package dev.handoff.proxy;

import dev.handoff.common.HandoffChannel;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes accepted connections from the queue, in accept order, and sends each to the app. Runs on its
 * own thread.
 *
 * <p>A connection that waited longer than the maximum wait is closed and counted, as is any left
 * when a shutdown's grace period ends. A failed send drops the link and the same connection is
 * sent again on the next link: nothing reached the app, since a send either writes the whole
 * message with its descriptor or fails.
 */
final class Dispatcher implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(Dispatcher.class);

  private final BlockingQueue<AcceptedConnection> queue;
  private final AppLink link;
  private final ProxyStats stats;
  private final long maxWaitNanos;
  private final Duration holdCopy;
  private final ScheduledExecutorService copyCloser;
  private volatile long drainDeadlineNanos;
  private volatile boolean draining;

  Dispatcher(BlockingQueue<AcceptedConnection> queue, AppLink link, ProxyStats stats,
      Duration maxWait, Duration holdCopy, ScheduledExecutorService copyCloser) {
    this.queue = queue;
    this.link = link;
    this.stats = stats;
    this.maxWaitNanos = maxWait.toNanos();
    this.holdCopy = holdCopy;
    this.copyCloser = copyCloser;
  }

  /**
   * Asks the dispatcher to send what is queued within {@code grace}, close the rest and return.
   * The acceptor must be stopped first so that the queue only shrinks.
   */
  void drain(Duration grace) {
    drainDeadlineNanos = System.nanoTime() + grace.toNanos();
    draining = true;
  }

  @Override
  public void run() {
    try {
      while (true) {
        AcceptedConnection conn = queue.poll(50, TimeUnit.MILLISECONDS);
        if (conn != null) {
          dispatch(conn);
        } else if (draining) {
          break;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      closeLeftovers();
    }
  }

  private void dispatch(AcceptedConnection conn) throws InterruptedException {
    while (true) {
      long deadline = deadlineFor(conn);
      if (System.nanoTime() - deadline >= 0) {
        drop(conn);
        return;
      }
      HandoffChannel channel = link.await(deadline);
      if (channel == null) {
        drop(conn);
        return;
      }
      try {
        channel.send(conn.header(), conn.descriptor());
      } catch (IOException e) {
        stats.sendFailures.increment();
        link.lost(e);
        continue;
      }
      stats.handedOff.increment();
      log.debug("{}: handed off", conn);
      releaseCopy(conn);
      return;
    }
  }

  private long deadlineFor(AcceptedConnection conn) {
    long expiry = conn.acceptedNanos() + maxWaitNanos;
    if (draining && drainDeadlineNanos - expiry < 0) {
      return drainDeadlineNanos;
    }
    return expiry;
  }

  /** After a successful send the app holds the connection; the proxy's copy goes. */
  private void releaseCopy(AcceptedConnection conn) {
    if (holdCopy.isZero()) {
      conn.close();
    } else {
      copyCloser.schedule(conn::close, holdCopy.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  private void drop(AcceptedConnection conn) {
    if (draining) {
      stats.droppedShutdown.increment();
      log.debug("{}: closed, shutting down before an app took it", conn);
    } else {
      stats.droppedExpired.increment();
      log.warn("{}: closed after waiting {} ms for an app", conn,
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - conn.acceptedNanos()));
    }
    conn.close();
  }

  private void closeLeftovers() {
    AcceptedConnection conn;
    while ((conn = queue.poll()) != null) {
      stats.droppedShutdown.increment();
      conn.close();
    }
  }
}
