package dev.handoff.proxy.link;

import dev.handoff.proxy.accept.AcceptedConnection;
import dev.handoff.proxy.accept.ProxyStats;
import dev.handoff.proxy.accept.WaitLimit;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes accepted connections in order and sends each to an app link chosen by the {@link LinkSet};
 * takes them back from links that lost them, and settles the answers. Runs on its own thread, in
 * a {@link SendLoop}.
 *
 * <p>A connection that cannot be sent before its wait is over ({@code --queue-wait} after its
 * accept, or the end of a shutdown's grace period) is closed and counted. Connections handed back
 * by a lost link go first in line, so a client whose handoff was in flight when its app died is
 * served by another app, or by the same one once it is back. A connection an app answered RETRY
 * goes back in line at once; the back-off is the link's (see {@link AppLink}), and the connection
 * is kept until {@code --queue-wait} after its accept like any other, then closed and counted.
 */
public final class Dispatcher implements Runnable, LinkEvents {
  private static final Logger log = LoggerFactory.getLogger(Dispatcher.class);

  private final BlockingQueue<AcceptedConnection> queue;
  private final ConcurrentLinkedDeque<AcceptedConnection> again = new ConcurrentLinkedDeque<>();
  private final LinkSet links;
  private final ProxyStats stats;
  private final WaitLimit wait;
  private final Duration holdCopy;
  private final ScheduledExecutorService timer;

  Dispatcher(BlockingQueue<AcceptedConnection> queue, LinkSet links, ProxyStats stats,
      Duration maxWait, Duration holdCopy, ScheduledExecutorService timer) {
    this.queue = queue;
    this.links = links;
    this.stats = stats;
    this.wait = new WaitLimit(maxWait, stats, "an app");
    this.holdCopy = holdCopy;
    this.timer = timer;
  }

  /**
   * Sends a just-accepted connection at once, on the acceptor's thread, when nothing accepted
   * earlier is waiting and a link can take it: one thread hop less between accept and app.
   *
   * @return whether it was sent; if not, the caller queues it as usual
   */
  boolean trySendNow(AcceptedConnection conn) {
    if (wait.draining() || !queue.isEmpty() || !again.isEmpty()) {
      return false;
    }
    AppLink link = links.pickNow(conn.clientAddress());
    if (link == null || !link.send(conn)) {
      return false;
    }
    log.debug("{}: sent to {}", conn, link.socket());
    return true;
  }

  /**
   * Asks the dispatcher to send what is queued and collect the answers within {@code grace}, then
   * return. The acceptor must be stopped first so that the queue only shrinks.
   */
  void drain(Duration grace) {
    wait.drain(grace);
  }

  @Override
  public void run() {
    new SendLoop(wait, this::next, () -> !links.anyInFlight() || wait.graceOver(), this::attempt)
        .run();
  }

  /** Closes whatever is still waiting; call after {@link #run} returned and the links closed. */
  void closeLeftovers() {
    AcceptedConnection conn;
    while ((conn = again.poll()) != null || (conn = queue.poll()) != null) {
      stats.droppedShutdown.increment();
      conn.close();
    }
  }

  /** Connections a link handed back first, then the queue. */
  private AcceptedConnection next(long millis) throws InterruptedException {
    AcceptedConnection conn = again.pollFirst();
    return conn != null ? conn : queue.poll(millis, TimeUnit.MILLISECONDS);
  }

  /** The link set picks a link, waiting for one until the deadline; none by then: give up. */
  private SendLoop.Attempt attempt(AcceptedConnection conn, long deadline)
      throws InterruptedException {
    AppLink link = links.pick(() -> wait.deadlineFor(conn), conn.clientAddress());
    if (link == null) {
      return SendLoop.Attempt.GIVE_UP;
    }
    if (link.send(conn)) {
      log.debug("{}: sent to {}", conn, link.socket());
      return SendLoop.Attempt.SENT;
    }
    return SendLoop.Attempt.AGAIN;
  }

  @Override
  public void adopted(AcceptedConnection conn) {
    stats.adopted(conn.acceptedNanos());
    log.debug("{}: adopted", conn);
    if (holdCopy.isZero()) {
      conn.close();
    } else {
      timer.schedule(conn::close, holdCopy.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  @Override
  public void resend(AcceptedConnection conn) {
    stats.resent.increment();
    again.addFirst(conn);
  }

  @Override
  public void retryLater(AcceptedConnection conn) {
    stats.retried.increment();
    log.debug("{}: the app is out of room (RETRY); waiting for a link with room", conn);
    again.addLast(conn);
    links.signal();
  }

  @Override
  public void rejected(AcceptedConnection conn) {
    stats.rejectedByApp.increment();
    if (conn.clientGone()) {
      // The app refuses a socket whose client reset or closed before it got there: ordinary.
      log.debug("{}: the client went away before the app could serve it; closed", conn);
    } else {
      log.warn("{}: rejected by the app; closed", conn);
    }
    conn.close();
  }

  @Override
  public void abandoned(AcceptedConnection conn) {
    stats.unacknowledged.increment();
    log.debug("{}: left to the app, which may own it; the proxy's copy closed", conn);
    conn.close();
  }

  @Override
  public void linksChanged() {
    links.signal();
  }
}
