package dev.handoff.proxy;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Errors;
import dev.handoff.common.HandoffChannel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxy's link to one app socket.
 *
 * <p>Lifecycle: DOWN until {@link #maintain} connects (with exponential backoff, each change of state
 * logged once); UP while handoffs may be sent; DRAINING once a send failed, which is how an app
 * that stopped taking handoffs shows itself: no more sends, but its last acknowledgements are still
 * read; DOWN again when the app closes the link, and then every connection still unacknowledged is
 * handed back to be sent elsewhere. An app may have read none of them, since it acknowledges each
 * handoff it adopts before it closes.
 *
 * <p>Threads: the acceptor and the dispatcher call {@link #send}; this link's reader thread reads
 * acknowledgements;
 * the maintenance thread calls {@link #maintain}. A connection in flight sits in {@code unacked},
 * and whichever thread removes it from there owns it.
 */
final class AppLink {
  private static final Logger log = LoggerFactory.getLogger(AppLink.class);

  enum State { DOWN, UP, DRAINING }

  private final Path socket;
  private final LinkEvents events;
  private final ProxyStats stats;
  private final Set<Integer> allowedUids;
  private final long minBackoffNanos;
  private final long maxBackoffNanos;
  private final int window;
  private final long ackTimeoutNanos;
  private final Map<Long, AcceptedConnection> unacked = new ConcurrentHashMap<>();
  /** The acceptor and the dispatcher may both send; a channel takes one message at a time. */
  private final Object sendLock = new Object();

  private volatile State state = State.DOWN;
  private volatile HandoffChannel channel;
  /** Set when the link is closed for not answering: its connections are not sent again. */
  private volatile boolean abandon;
  private long backoffNanos;
  private long nextAttemptNanos;
  private boolean reportedDown;

  AppLink(Path socket, LinkEvents events, ProxyStats stats, ProxyConfig config) {
    this.socket = socket;
    this.events = events;
    this.stats = stats;
    this.allowedUids = config.appUids();
    this.minBackoffNanos = config.retryMin().toNanos();
    this.maxBackoffNanos = Math.max(minBackoffNanos, config.retryMax().toNanos());
    this.window = config.window();
    this.ackTimeoutNanos = config.ackTimeout().toNanos();
  }

  Path socket() {
    return socket;
  }

  State state() {
    return state;
  }

  /** Handoffs sent on this link and not yet answered. */
  int inFlight() {
    return unacked.size();
  }

  /** Whether the dispatcher may send on this link now. */
  boolean canTake() {
    return state == State.UP && unacked.size() < window;
  }

  /**
   * Sends one connection. On success the link owns it until the app answers; on failure it is back
   * with the caller, nothing having reached the app, and the link stops taking handoffs.
   */
  boolean send(AcceptedConnection conn) {
    HandoffChannel ch = channel;
    if (ch == null || state != State.UP) {
      return false;
    }
    // Stamped before it becomes visible to the ack-timeout check, which reads the stamp.
    conn.markSent();
    unacked.put(conn.id(), conn);
    try {
      synchronized (sendLock) {
        ch.send(conn.header(), conn.descriptor());
      }
    } catch (IOException e) {
      if (unacked.remove(conn.id()) == null) {
        return true; // the reader already handed it back after the link closed
      }
      drain(ch, Errors.describe(e));
      return false;
    }
    stats.sent.increment();
    // Lost while sending: the reader may have handed back everything before this one arrived.
    return channel == ch || unacked.remove(conn.id()) == null;
  }

  private void drain(HandoffChannel ch, String why) {
    synchronized (this) {
      if (channel != ch || state != State.UP) {
        return;
      }
      state = State.DRAINING;
    }
    log.info("app at {} stopped taking handoffs ({}); waiting for its last answers", socket, why);
    events.linksChanged();
  }

  /** Connects when due, and gives up on a link whose app stopped answering. Maintenance thread. */
  void maintain(long now) {
    if (state == State.DOWN) {
      if (now - nextAttemptNanos >= 0) {
        tryConnect();
      }
      return;
    }
    for (AcceptedConnection conn : unacked.values()) {
      if (now - conn.sentNanos() > ackTimeoutNanos) {
        log.warn("app at {} has not answered {} for {} ms; closing the link", socket, conn,
            TimeUnit.NANOSECONDS.toMillis(now - conn.sentNanos()));
        abandon = true;
        closeChannel();
        return;
      }
    }
  }

  /** Closes the link; what is unanswered goes back to the caller through {@link LinkEvents}. */
  void close() {
    closeChannel();
  }

  private void tryConnect() {
    HandoffChannel ch;
    try {
      ch = HandoffChannel.connect(socket);
    } catch (IOException e) {
      if (!Thread.currentThread().isInterrupted()) { // interrupted: the proxy is stopping
        backOff("app not reachable: " + Errors.describe(e));
      }
      return;
    }
    String peer;
    try {
      AFUNIXSocketCredentials creds = ch.peerCredentials();
      peer = "pid " + creds.getPid() + ", uid " + creds.getUid();
      if (!allowedUids.contains((int) creds.getUid())) {
        closeQuietly(ch);
        backOff("app at " + socket + " runs as " + peer + ", not an allowed uid " + allowedUids
            + "; refusing to hand it connections");
        return;
      }
    } catch (IOException | RuntimeException e) {
      closeQuietly(ch);
      backOff("credentials of the app at " + socket + ": " + e.getMessage());
      return;
    }
    backoffNanos = 0;
    reportedDown = false;
    synchronized (this) {
      abandon = false;
      channel = ch;
      state = State.UP;
    }
    Thread reader = new Thread(() -> readAcks(ch), "acks-" + socket.getFileName());
    reader.setDaemon(true);
    reader.start();
    log.info("linked to app at {} ({})", socket, peer);
    events.linksChanged();
  }

  private void backOff(String why) {
    backoffNanos = backoffNanos == 0 ? minBackoffNanos : Math.min(maxBackoffNanos, backoffNanos * 2);
    nextAttemptNanos = System.nanoTime() + backoffNanos;
    if (!reportedDown) {
      log.warn("{}; retrying with backoff up to {} ms", why,
          TimeUnit.NANOSECONDS.toMillis(maxBackoffNanos));
      reportedDown = true;
    } else {
      log.debug("{}", why);
    }
  }

  private void readAcks(HandoffChannel ch) {
    String cause;
    try {
      Acknowledgement ack;
      while ((ack = ch.receiveAck()) != null) {
        answered(ch, ack);
      }
      cause = "closed by the app";
    } catch (IOException e) {
      cause = Errors.describe(e);
    }
    lost(ch, cause);
  }

  private void answered(HandoffChannel ch, Acknowledgement ack) {
    if (ack.status() == Acknowledgement.Status.CLOSING) {
      drain(ch, "the app is shutting down or handing over");
      try {
        ch.shutdownOutput(); // the app reads what is left, answers it, and closes the link
      } catch (IOException e) {
        // the reader sees the link end either way
      }
      return;
    }
    AcceptedConnection conn = unacked.remove(ack.connectionId());
    if (conn == null) {
      stats.unknownAcks.increment();
      log.warn("app at {} answered {} for unknown connection c{}; ignored", socket, ack.status(),
          ack.connectionId());
      return;
    }
    switch (ack.status()) {
      case ADOPTED -> events.adopted(conn);
      case RETRY -> events.retryLater(conn);
      case REJECTED -> events.rejected(conn);
      case CLOSING -> throw new IllegalStateException("handled above");
      default -> throw new IllegalStateException("unknown status " + ack.status());
    }
    events.linksChanged();
  }

  /** The reader is done with {@code ch}: hand back what is unanswered and go DOWN. */
  private void lost(HandoffChannel ch, String cause) {
    closeQuietly(ch);
    synchronized (this) {
      if (channel != ch) {
        return;
      }
      channel = null;
      state = State.DOWN;
      // Reconnect at once: an app that restarts should be linked without waiting.
      backoffNanos = 0;
      nextAttemptNanos = System.nanoTime();
    }
    int handedBack = 0;
    for (Long id : unacked.keySet()) {
      AcceptedConnection conn = unacked.remove(id);
      if (conn == null) {
        continue;
      }
      handedBack++;
      if (abandon) {
        events.abandoned(conn);
      } else {
        events.resend(conn);
      }
    }
    if (handedBack > 0) {
      log.warn("link to app at {} lost ({}); {} unanswered connections {}", socket, cause,
          handedBack, abandon ? "left to it" : "will be sent again");
    } else {
      log.info("link to app at {} lost: {}", socket, cause);
    }
    events.linksChanged();
  }

  private void closeChannel() {
    HandoffChannel ch = channel;
    if (ch != null) {
      closeQuietly(ch); // wakes the reader, which hands back what is unanswered
    }
  }

  private static void closeQuietly(HandoffChannel ch) {
    try {
      ch.close();
    } catch (IOException e) {
      // gone either way
    }
  }
}
