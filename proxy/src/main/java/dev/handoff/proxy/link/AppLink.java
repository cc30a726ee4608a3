package dev.handoff.proxy.link;

import dev.handoff.proxy.accept.AcceptedConnection;
import dev.handoff.proxy.accept.ProxyStats;
import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Errors;
import dev.handoff.common.HandoffException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxy's link to one app socket.
 *
 * <p>Lifecycle: DOWN until {@link #maintain} connects (with exponential backoff, each change of state
 * logged once); UP while handoffs may be sent; DRAINING once a send failed or the app answered
 * CLOSING: no more sends, but its last acknowledgements are still read; DOWN again when the link
 * ends. While the proxy shuts down ({@link #stopLinking}) a link that is DOWN stays DOWN.
 *
 * <p><b>When a connection is sent again.</b> Only when it is certain that the app did not take it:
 * <ul>
 *   <li>the app answered RETRY for it;
 *   <li>the send failed, and the proxy had not closed the link meanwhile (a send writes the whole
 *       message or nothing, so a failed send delivered nothing);
 *   <li>the app ended the link (end of stream, or a read error the proxy did not cause) with it
 *       unanswered: the protocol requires an app to write the answer to every handoff it keeps
 *       before it closes a link, and to close a connection whose ADOPTED answer it could not write,
 *       so what is unanswered when the app's end of stream arrives is not the app's.
 * </ul>
 * When the proxy closes a link itself (no answer within {@code --ack-timeout}, framing lost,
 * shutdown, or a close during a send, including the JDK's close of a channel whose thread was
 * interrupted: threads that send must not be interrupted), answers the app wrote may be lost unread, so what is
 * unanswered is left to the app: the proxy closes its copies and counts them {@code unacknowledged},
 * and never sends them again. A client may lose its connection this way, but never has two apps on
 * it.
 *
 * <p><b>Health before traffic.</b> An app whose link timed out is linked again with backoff, and
 * then gets one handoff at a time until it answers one; an app that answered RETRY gets none until
 * a back-off pause (doubling from {@code --retry-min} up to {@code --retry-max}) is over, then one
 * at a time until it adopts or rejects one. {@link LinkSet} prefers healthy links to either.
 *
 * <p>Threads: the acceptor and the dispatcher call {@link #send}; this link's reader thread reads
 * acknowledgements; the maintenance thread calls {@link #maintain}. A connection in flight sits in
 * {@code unacked}, and whichever thread removes it from there owns it. Everything in
 * {@code unacked} was written whole to the link: a sender adds it under {@code sendLock}, and the
 * end of a link empties it under the same lock.
 */
public final class AppLink {
  private static final Logger log = LoggerFactory.getLogger(AppLink.class);

  public enum State { DOWN, UP, DRAINING }

  /** One connected link: its transport, and whether and why the proxy closed it. */
  private static final class Session {
    final Transport transport;
    /** Set, before the close, when the proxy closes this link: what is unanswered stays there. */
    volatile String closedByProxy;
    /**
     * Set, before the close, when the reader closes this link because the app ended it: the app
     * answered everything it keeps, so a send that failed meanwhile may go elsewhere.
     */
    volatile boolean endedByApp;
    volatile boolean timedOut;
    boolean reportedUnknownStatus;

    Session(Transport transport) {
      this.transport = transport;
    }
  }

  private final Path socket;
  private final LinkEvents events;
  private final ProxyStats stats;
  private final Transport.Connector connector;
  private final LongSupplier clock;
  private final Consumer<Runnable> readerStarter;
  /** Between attempts to link; guarded by this. */
  private final Backoff reconnect;
  /** Pauses after RETRY answers; reader thread. */
  private final Backoff retryPause;
  private final int window;
  private final long ackTimeoutNanos;
  private final Map<Long, AcceptedConnection> unacked = new ConcurrentHashMap<>();
  /** The acceptor and the dispatcher may both send; a link takes one message at a time. */
  private final Object sendLock = new Object();

  private volatile State state = State.DOWN;
  private volatile Session session;
  /** Readers started and not yet done settling their link (see {@link #settled}). */
  private final AtomicInteger readersRunning = new AtomicInteger();
  /** Shutdown: no new links. */
  private volatile boolean linking = true;
  /** The last link timed out and the app has not answered since: one handoff at a time. */
  private volatile boolean suspect;
  /** The app answered RETRY and has not adopted or rejected since. */
  private volatile boolean saturated;
  private volatile long pausedUntilNanos;
  /** When the next attempt to link is due; guarded by this, like {@link #reconnect}. */
  private long nextAttemptNanos;
  /** Whether the warning that the app is unreachable was logged; guarded by this. */
  private boolean reportedDown;

  AppLink(Path socket, LinkEvents events, ProxyStats stats, LinkOptions config) {
    this(socket, events, stats, config, ChannelTransport.connector(config.appUids()),
        System::nanoTime, reader -> startReader(reader, "acks-" + socket.getFileName()));
  }

  /**
   * @param readerStarter runs a link's reader loop, on its own thread in production; a test may
   *     drop it and drive {@link #answered} and {@link #ended} itself
   */
  AppLink(Path socket, LinkEvents events, ProxyStats stats, LinkOptions config,
      Transport.Connector connector, LongSupplier clock, Consumer<Runnable> readerStarter) {
    this.socket = socket;
    this.events = events;
    this.stats = stats;
    this.connector = connector;
    this.clock = clock;
    this.readerStarter = readerStarter;
    this.reconnect = new Backoff(config.retryMin(), config.retryMax());
    this.retryPause = new Backoff(config.retryMin(), config.retryMax());
    this.window = config.window();
    this.ackTimeoutNanos = config.ackTimeout().toNanos();
    this.nextAttemptNanos = clock.getAsLong();
  }

  private static void startReader(Runnable reader, String name) {
    Thread t = new Thread(reader, name);
    t.setDaemon(true);
    t.start();
  }

  public Path socket() {
    return socket;
  }

  public State state() {
    return state;
  }

  /**
   * Whether this link is down and its reader has finished settling it: every handoff that was
   * unanswered when it ended has been counted and closed, or given back to be sent again. DOWN
   * alone is not enough: the link goes DOWN (so that nothing more is sent on it) before its reader
   * goes through what was unanswered.
   */
  public boolean settled() {
    return state == State.DOWN && readersRunning.get() == 0;
  }

  /** Handoffs sent on this link and not yet answered. */
  public int inFlight() {
    return unacked.size();
  }

  /** Whether connection {@code id} is in flight on this link. */
  boolean holds(long id) {
    return unacked.containsKey(id);
  }

  /** Whether this link has the app's full trust: neither timed out nor out of room lately. */
  boolean healthy() {
    return !suspect && !saturated;
  }

  /** Whether the dispatcher may send on this link now. */
  boolean canTake() {
    if (state != State.UP) {
      return false;
    }
    if (healthy()) {
      return unacked.size() < window;
    }
    return unacked.isEmpty() && clock.getAsLong() - pausedUntilNanos >= 0;
  }

  /**
   * Sends one connection.
   *
   * @return {@code true} if the link took it (it was written whole, or the link disposed of it);
   *     {@code false} if it is back with the caller, nothing having reached the app
   */
  boolean send(AcceptedConnection conn) {
    Session s = session;
    if (s == null) {
      return false;
    }
    synchronized (sendLock) {
      if (session != s || !canTake()) { // the acceptor and the dispatcher may race for a probe
        return false;
      }
      // Stamped before it becomes visible to the ack-timeout check, which reads the stamp.
      conn.markSent(clock.getAsLong());
      unacked.put(conn.id(), conn);
      try {
        s.transport.send(conn.header(), conn.descriptor());
      } catch (IOException e) {
        unacked.remove(conn.id());
        if (s.endedByApp && s.closedByProxy == null) {
          // The app ended the link while this was being sent: whether or not it arrived, the app
          // does not keep it (it answers all it keeps before closing). Back to the caller.
          return false;
        }
        if (s.closedByProxy != null || !s.transport.isOpen()) {
          // Closed on this side during the send (by another thread, or by the JDK because this
          // thread was interrupted): the message may have been written before the close.
          closeByProxy(s, "closed on the proxy's side during a send: " + Errors.describe(e));
          log.warn("{}: link to app at {} {}; the app may own it, so it is not sent again", conn,
              socket, s.closedByProxy);
          events.abandoned(conn);
          return true;
        }
        drain(s, Errors.describe(e));
        return false;
      }
    }
    stats.sent.increment();
    return true;
  }

  private void drain(Session s, String why) {
    synchronized (this) {
      if (session != s || state != State.UP) {
        return;
      }
      state = State.DRAINING;
    }
    log.info("app at {} stopped taking handoffs ({}); waiting for its last answers", socket, why);
    events.linksChanged();
  }

  /** Connects when due, and gives up on a link whose app stopped answering. Maintenance thread. */
  void maintain(long now) {
    Session s = session;
    if (s == null) {
      if (linking && connectDue(now)) {
        tryConnect();
      }
      return;
    }
    if (s.closedByProxy != null) {
      return; // its reader is about to settle it
    }
    for (AcceptedConnection conn : unacked.values()) {
      long silent = now - conn.sentNanos();
      if (silent > ackTimeoutNanos) {
        log.warn("{}: app at {} has not answered it for {} ms; the proxy closes the link", conn,
            socket, TimeUnit.NANOSECONDS.toMillis(silent));
        s.timedOut = true;
        closeByProxy(s, "no answer to " + conn + " for "
            + TimeUnit.NANOSECONDS.toMillis(silent) + " ms");
        return;
      }
    }
  }

  /**
   * Whether there is no link and the next attempt is due. Under the lock {@link #ended} holds
   * while it sets both, so that a link that has just ended is not attempted again before the
   * backoff it set.
   */
  private synchronized boolean connectDue(long now) {
    return session == null && now - nextAttemptNanos >= 0;
  }

  /** No more links from now on (the proxy is shutting down); links that are up stay up. */
  void stopLinking() {
    linking = false;
  }

  /** Closes the link; what is unanswered is left to the app (see the class comment). */
  void close() {
    Session s = session;
    if (s != null) {
      closeByProxy(s, "the proxy is shutting down");
    }
  }

  private void closeByProxy(Session s, String why) {
    if (s.closedByProxy == null) {
      s.closedByProxy = why;
    }
    s.transport.close(); // wakes the reader, which then calls ended()
  }

  private void tryConnect() {
    Transport t;
    try {
      t = connector.connect(socket);
    } catch (Transport.RefusedPeerException e) {
      backOff(e.getMessage());
      return;
    } catch (IOException e) {
      if (!Thread.currentThread().isInterrupted()) { // interrupted: the proxy is stopping
        backOff("app not reachable: " + Errors.describe(e));
      }
      return;
    }
    Session s = new Session(t);
    synchronized (this) {
      if (!linking) {
        t.close(); // the proxy began to shut down while connecting
        return;
      }
      session = s;
      state = State.UP;
      reconnect.reset();
      reportedDown = false;
    }
    if (suspect) {
      log.info("linked to app at {} ({}); it stopped answering on its last link, so it gets one"
          + " handoff at a time until it answers", socket, t.peer());
    } else {
      log.info("linked to app at {} ({})", socket, t.peer());
    }
    readersRunning.incrementAndGet();
    readerStarter.accept(() -> {
      try {
        readAcks(s);
      } finally {
        readersRunning.decrementAndGet();
      }
    });
    events.linksChanged();
  }

  private void backOff(String why) {
    boolean first;
    synchronized (this) {
      nextAttemptNanos = clock.getAsLong() + reconnect.next();
      first = !reportedDown;
      reportedDown = true;
    }
    if (first) {
      log.warn("{}; retrying with backoff up to {} ms", why,
          TimeUnit.NANOSECONDS.toMillis(reconnect.maxNanos()));
    } else {
      log.debug("{}", why);
    }
  }

  private void readAcks(Session s) {
    String cause;
    while (true) {
      try {
        Acknowledgement ack = s.transport.receiveAck();
        if (ack == null) {
          cause = "end of stream";
          break;
        }
        answered(s, ack);
      } catch (HandoffException e) {
        if (e.reason().resynchronisable()) {
          unreadable(s, e);
          continue;
        }
        closeByProxy(s, "not an acknowledgement: " + e.getMessage());
        cause = e.getMessage();
        break;
      } catch (IOException e) {
        cause = Errors.describe(e);
        break;
      }
    }
    ended(s, cause);
  }

  /** An acknowledgement read whole that this version cannot act on: counted, logged once. */
  private void unreadable(Session s, HandoffException e) {
    stats.unknownStatus.increment();
    if (!s.reportedUnknownStatus) {
      s.reportedUnknownStatus = true;
      log.warn("app at {} answered c{} with a status this proxy does not know ({}: {}); ignored,"
          + " the link goes on (further ones at debug)", socket, e.connectionId(), e.reason(),
          e.getMessage());
    } else {
      log.debug("app at {}: {}", socket, e.getMessage());
    }
  }

  /** One acknowledgement from the app on {@code s}. Reader thread (or a test). */
  void answered(Acknowledgement ack) {
    Session s = session;
    if (s != null) {
      answered(s, ack);
    }
  }

  private void answered(Session s, Acknowledgement ack) {
    if (suspect) {
      suspect = false;
      log.info("app at {} answers again; it takes handoffs as before", socket);
    }
    if (ack.status() == Acknowledgement.Status.CLOSING) {
      drain(s, "the app is shutting down or handing over");
      try {
        s.transport.shutdownOutput(); // the app reads what is left, answers it, and closes
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
      case ADOPTED -> {
        healthyAgain();
        events.adopted(conn);
      }
      case REJECTED -> {
        healthyAgain();
        events.rejected(conn);
      }
      case RETRY -> {
        pausedUntilNanos = clock.getAsLong() + retryPause.next();
        if (!saturated) {
          saturated = true;
          log.info("app at {} is out of room (RETRY for {}); it gets no handoff for {} ms, then"
              + " one at a time until it adopts one", socket, conn,
              TimeUnit.NANOSECONDS.toMillis(retryPause.current()));
        }
        events.retryLater(conn);
      }
      default -> throw new IllegalStateException("unhandled status " + ack.status());
    }
    events.linksChanged();
  }

  private void healthyAgain() {
    retryPause.reset();
    if (saturated) {
      saturated = false;
      log.info("app at {} has room again", socket);
    }
  }

  /** The reader is done with the current link. Reader thread (or a test). */
  void ended(String cause) {
    Session s = session;
    if (s != null) {
      ended(s, cause);
    }
  }

  /**
   * The reader is done with {@code s}: close it, go DOWN, and settle what is unanswered by the rule
   * in the class comment.
   */
  private void ended(Session s, String cause) {
    if (s.transport.isOpen()) {
      if (s.closedByProxy == null) {
        s.endedByApp = true;
      }
      s.transport.close();
    } else if (s.closedByProxy == null) {
      // Closed on this side without closeByProxy: the JDK closes a channel when a thread blocked
      // on it is interrupted. Whatever the reader saw then, the app did not end this link.
      s.closedByProxy = "closed on the proxy's side";
    }
    String byProxy = s.closedByProxy;
    List<AcceptedConnection> left = new ArrayList<>();
    synchronized (sendLock) { // no send is between its put and its write now
      synchronized (this) {
        if (session != s) {
          return;
        }
        session = null;
        state = State.DOWN;
        if (s.timedOut) {
          suspect = true;
          nextAttemptNanos = clock.getAsLong() + reconnect.next();
        } else {
          // Reconnect at once: an app that restarts should be linked without waiting.
          reconnect.reset();
          nextAttemptNanos = clock.getAsLong();
        }
      }
      for (Long id : unacked.keySet()) {
        AcceptedConnection conn = unacked.remove(id);
        if (conn != null) {
          left.add(conn);
        }
      }
    }
    for (AcceptedConnection conn : left) {
      if (byProxy == null) {
        events.resend(conn);
      } else {
        events.abandoned(conn);
      }
    }
    if (byProxy == null) {
      if (left.isEmpty()) {
        log.info("link to app at {} closed by the app ({})", socket, cause);
      } else {
        log.warn("link to app at {} closed by the app ({}) with {} handoffs unanswered; the app"
            + " answers every one it keeps before it closes, so they are sent again", socket,
            cause, left.size());
      }
    } else if (left.isEmpty()) {
      log.info("link to app at {} closed by the proxy ({})", socket, byProxy);
    } else {
      log.warn("link to app at {} closed by the proxy ({}) with {} handoffs unanswered; the app"
          + " may own them, so the proxy closed its copies and does not send them again", socket,
          byProxy, left.size());
    }
    events.linksChanged();
  }
}
