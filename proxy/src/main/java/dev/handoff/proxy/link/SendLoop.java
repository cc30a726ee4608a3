package dev.handoff.proxy.link;

import dev.handoff.proxy.accept.AcceptedConnection;
import dev.handoff.proxy.accept.WaitLimit;
import java.util.function.BooleanSupplier;

/**
 * The loop of a sending thread, the {@link Dispatcher}'s or the {@link PlainSender}'s: takes the
 * next connection, waiting at most {@value #POLL_MS} ms for one, and tries to send it until it is
 * sent or its {@link WaitLimit} deadline has passed, when it is dropped; once a shutdown has
 * begun and nothing comes, it ends. Owns only that: the sender supplies where connections come
 * from, when a drained sender is done, and one attempt to send (picking its link).
 */
final class SendLoop {
  /** How long one look for the next connection waits. */
  static final long POLL_MS = 20;

  /** Where the next connection comes from. */
  interface Source {
    /** The next connection, waiting at most {@code millis} for it; null if none came. */
    AcceptedConnection next(long millis) throws InterruptedException;
  }

  /** What became of one attempt to send. */
  enum Attempt {
    /** Sent: the connection is the link's now. */
    SENT,
    /** Not sent: try again while its deadline allows. */
    AGAIN,
    /** Not sent and no point trying again: drop it now. */
    GIVE_UP
  }

  /** One attempt to send a connection: picks a link and sends, or says why not. */
  interface Sender {
    Attempt attempt(AcceptedConnection conn, long deadline) throws InterruptedException;
  }

  private final WaitLimit wait;
  private final Source source;
  private final BooleanSupplier drained;
  private final Sender sender;

  /**
   * @param drained asked when a shutdown has begun and nothing came: whether the loop may end
   */
  SendLoop(WaitLimit wait, Source source, BooleanSupplier drained, Sender sender) {
    this.wait = wait;
    this.source = source;
    this.drained = drained;
    this.sender = sender;
  }

  /** Sends until drained; returns at once, the thread's interrupt status set, if interrupted. */
  void run() {
    try {
      while (true) {
        AcceptedConnection conn = source.next(POLL_MS);
        if (conn != null) {
          send(conn);
        } else if (wait.draining() && drained.getAsBoolean()) {
          break;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Attempts until sent, given up on, or past the deadline (then dropped). */
  private void send(AcceptedConnection conn) throws InterruptedException {
    while (true) {
      long deadline = wait.deadlineFor(conn);
      if (System.nanoTime() - deadline >= 0) {
        wait.drop(conn);
        return;
      }
      switch (sender.attempt(conn, deadline)) {
        case SENT:
          return;
        case GIVE_UP:
          wait.drop(conn);
          return;
        default:
          break; // AGAIN
      }
    }
  }
}
