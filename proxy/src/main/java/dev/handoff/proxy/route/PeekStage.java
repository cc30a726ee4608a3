package dev.handoff.proxy.route;

import dev.handoff.proxy.accept.AcceptedConnection;
import dev.handoff.proxy.accept.DeadlineSelector;
import dev.handoff.proxy.accept.ProxyStats;
import dev.handoff.proxy.route.PeekStats.Outcome;
import dev.handoff.proxy.route.FirstBytes;
import dev.handoff.proxy.accept.MsgPeek;
import dev.handoff.proxy.route.PeekOptions;
import dev.handoff.proxy.route.RouteTable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Picks each accepted connection's route from its first bytes, read with {@code MSG_PEEK} only
 * ({@link MsgPeek}), so the app reads them all. One thread and one JDK {@link Selector} for every
 * connection being looked at, never a thread per connection; exists only when some route needs the
 * first bytes.
 *
 * <p>A connection that has sent nothing waits for readiness (OP_READ). One that has sent part of a
 * ClientHello or request head stays readable, so readiness says nothing more: it is peeked again
 * on a timer, after 1 ms, doubling up to 64 ms while nothing new arrives (measured: 1,000
 * connections each stalled in the middle of a ClientHello cost about 17% of a core with a 32 ms
 * cap). Each connection gets at most {@link PeekOptions#timeout()} from its accept (less the
 * kernel's wait when the accept is deferred and it came without a byte: {@link #timeoutLeft}) and
 * {@link PeekOptions#maxBytes()} bytes; then it takes the default route. A connection whose
 * bytes are already there when it is offered is routed on the offering thread instead (see
 * {@link #offer}). While connections keep coming to the stage (within 50 ms of the last), it
 * takes them from its intake every millisecond of its own accord instead of being woken for each,
 * and most of them have sent their first bytes by then, so they are routed without being watched
 * at all (measured side by side at about 4,000 TLS connections a second: 81 instead of 86 µs of
 * proxy CPU per connection); at worst, an offer that just misses the stage's last look waits for
 * its next wake-up, at most 20 ms. At most {@code capacity} connections are looked at at once;
 * beyond that the acceptor's offer fails and it pauses, as with a full queue.
 *
 * <p>Ownership: a connection offered here is this stage's until it is given to a route (whose
 * queue, dispatcher and links own it from then on) or closed here, exactly once: the client went
 * away, its input is malformed and {@code --peek-malformed=close}, no route and no default, or
 * the route's queue is full. Its channel is back in blocking mode, and off the selector, before a
 * route gets it, as the acceptor hands connections over.
 */
public final class PeekStage implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(PeekStage.class);
  private static final long MIN_RECHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
  private static final long MAX_RECHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(64);
  private static final long MAX_SELECT_MS = 20;
  /** While connections keep coming, the stage looks at its intake this often, unwoken. */
  private static final long COALESCE_MS = 1;
  /** How long after it last took a connection from its intake the stage keeps doing so. */
  private static final long BUSY_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

  /** One connection being looked at. */
  private static final class Peeking extends DeadlineSelector.Watched {
    final AcceptedConnection conn;
    final SocketChannel channel;
    int seen;
    long recheckAfter;
    /** The route decided, once decided. */
    int route;

    Peeking(AcceptedConnection conn, SocketChannel channel, long deadline) {
      super(deadline);
      this.conn = conn;
      this.channel = channel;
    }
  }

  private final RouteTable table;
  private final List<? extends RouteDestination> targets;
  private final PeekOptions options;
  /** TCP_DEFER_ACCEPT on the listening socket, in nanoseconds; 0 when not set. */
  private volatile long deferredNanos;
  private final ProxyStats stats;
  private final PeekStats peekStats;
  /** The connections being looked at, their deadlines and times to look again; its thread's. */
  private final DeadlineSelector<Peeking> selector;
  private final BlockingQueue<AcceptedConnection> intake;
  private final int capacity;
  /** The stage thread's peek buffer. */
  private final ByteBuffer buffer;
  /** For {@link #routedAtOnce}, on the accepting threads and this stage's; guarded by itself. */
  private final ByteBuffer acceptorBuffer;
  private final AtomicInteger peeking = new AtomicInteger();
  private volatile boolean draining;
  /**
   * Set while the stage looks at its intake every {@link #COALESCE_MS} of its own accord, so that
   * an offer need not wake it. Cleared by the stage before it waits longer, after which it looks at
   * the intake once more: an offer either sees it cleared and wakes the stage, or is seen.
   */
  private volatile boolean polling;
  /** Stage thread only: until when it keeps {@link #polling}. */
  private long busyUntil;
  private volatile long drainDeadline;

  public PeekStage(RouteTable table, List<? extends RouteDestination> targets, PeekOptions options, int capacity,
      ProxyStats stats, io.micrometer.core.instrument.MeterRegistry registry) throws IOException {
    this.table = table;
    this.targets = targets;
    this.options = options;
    this.stats = stats;
    this.capacity = capacity;
    this.intake = new ArrayBlockingQueue<>(capacity);
    this.buffer = ByteBuffer.allocateDirect(options.maxBytes());
    this.acceptorBuffer = ByteBuffer.allocateDirect(options.maxBytes());
    this.peekStats = new PeekStats(registry, targets, () -> peeking.get() + intake.size());
    this.selector = new DeadlineSelector<>(MAX_SELECT_MS, TimeUnit.MILLISECONDS);
  }

  /** The queue the acceptor puts connections in when {@link #offer} said no. */
  public BlockingQueue<AcceptedConnection> intake() {
    return intake;
  }

  public PeekStats peekStats() {
    return peekStats;
  }

  /** Connections waiting here: offered, not yet given to a route or closed. */
  public int size() {
    return peeking.get() + intake.size();
  }

  /**
   * Takes a just-accepted connection, from the acceptor's thread; false if full. Never waits.
   * When the client's first bytes are already there and decide the route (the usual case for a
   * TLS or HTTP client, which writes at once), the connection goes to its route from here: two
   * system calls (FIONREAD, then recv with MSG_PEEK on data that is there, so it does not block)
   * and no thread hop. Otherwise the stage's thread waits for its bytes.
   */
  public boolean offer(AcceptedConnection conn) {
    if (routedAtOnce(conn)) {
      peekStats.countAtAccept();
      return true;
    }
    if (!intake.offer(conn)) {
      return false;
    }
    if (!polling) {
      selector.wakeup();
    }
    return true;
  }

  /**
   * Lets the connections being looked at finish (at most their own deadline, at most
   * {@code within} from now), gives them their routes, and makes {@link #run} return. The acceptor
   * must be stopped first.
   */
  public void drain(Duration within) {
    drainDeadline = System.nanoTime() + within.toNanos();
    draining = true;
    selector.wakeup();
  }

  @Override
  public void run() {
    try {
      selector.run(new DeadlineSelector.Stage<>() {
        @Override
        public void admit(long now) {
          if (PeekStage.this.admit(now)) {
            busyUntil = now + BUSY_NANOS;
            polling = true;
          }
        }

        @Override
        public void look(Peeking p) {
          examine(p, false);
        }

        @Override
        public void expired(Peeking p) {
          examine(p, true);
        }

        @Override
        public boolean expireAll(long now) {
          return draining && now - drainDeadline >= 0;
        }

        @Override
        public void finish(List<Peeking> decided) {
          finishDecided(decided);
        }

        @Override
        public boolean over() {
          return draining && peeking.get() == 0 && intake.isEmpty();
        }

        @Override
        public long waitMillis(long now, long millis) {
          long wait = millis;
          if (draining) {
            wait = Math.min(wait,
                Math.max(1, TimeUnit.NANOSECONDS.toMillis(drainDeadline - now + 999_999)));
          }
          if (polling) {
            if (now - busyUntil < 0) {
              wait = Math.min(wait, COALESCE_MS);
            } else {
              polling = false;
              if (!intake.isEmpty()) {
                // offered before it saw polling cleared, so it did not wake the stage
                return DeadlineSelector.AT_ONCE;
              }
            }
          }
          return wait;
        }
      });
    } catch (IOException | RuntimeException e) {
      log.error("peek stage failed: {}; closing what it held", e.toString(), e);
      closeAll();
    } finally {
      selector.close();
      log.debug("peek stage stopped");
    }
  }

  /** Takes what waits in the intake; whether there was anything. */
  private boolean admit(long now) {
    AcceptedConnection conn;
    boolean any = false;
    while (peeking.get() < capacity && (conn = intake.poll()) != null) {
      any = true;
      if (routedAtOnce(conn)) {
        continue; // its bytes came meanwhile: no need to watch it
      }
      SocketChannel channel = conn.socketChannel();
      Peeking p = new Peeking(conn, channel, now + timeoutLeft(conn));
      peeking.incrementAndGet();
      try {
        channel.configureBlocking(false);
        selector.watch(channel, p);
      } catch (IOException | RuntimeException e) {
        log.debug("{}: cannot watch it ({}); closed", conn, e.toString());
        close(p, Outcome.CLIENT_GONE);
        continue;
      }
    }
    return any;
  }

  /** Says that the listening socket holds connections until their first bytes, or this long. */
  public void acceptDeferred(int seconds) {
    deferredNanos = TimeUnit.SECONDS.toNanos(seconds);
  }

  /**
   * The peek timeout left to a connection that is to be watched. With the accept deferred, one
   * that the kernel handed over without a byte (and without a PROXY header, which would have been
   * the bytes that woke it) has already waited that long in the kernel, which counts towards
   * its timeout; at worst the connection is looked at once more at once and takes the default
   * route.
   */
  private long timeoutLeft(AcceptedConnection conn) {
    long timeout = options.timeout().toNanos();
    long deferred = deferredNanos;
    if (deferred == 0 || conn.header().origin() != null) {
      return timeout;
    }
    try {
      if (MsgPeek.available(conn.descriptor(), buffer) != 0) {
        return timeout;
      }
    } catch (IOException | RuntimeException e) {
      return timeout; // the stage's own look will see the same failure and count it
    }
    return Math.max(0, timeout - deferred);
  }

  /**
   * The acceptor's fast path: routes the connection if its bytes are there and decide; else
   * leaves it to the stage (also when anything fails: the stage sees the same failure and counts
   * it). The channel is still blocking, as a route takes it.
   */
  private boolean routedAtOnce(AcceptedConnection conn) {
    SocketChannel channel = conn.socketChannel();
    if (channel == null || draining) {
      return false;
    }
    FirstBytes found;
    int n;
    // The acceptor's thread, the PROXY header reader's (which delivers through the acceptor), or
    // this stage's, when it takes a connection from its intake.
    synchronized (acceptorBuffer) {
      try {
        java.io.FileDescriptor fd = dev.handoff.common.internal.JdkNioInternals.descriptorOf(channel);
        if (MsgPeek.available(fd, acceptorBuffer) <= 0) {
          return false;
        }
        n = MsgPeek.peek(fd, acceptorBuffer, options.maxBytes());
        if (n <= 0) {
          return false;
        }
        found = FirstBytes.parse(acceptorBuffer, n);
      } catch (IOException | RuntimeException e) {
        return false;
      }
    }
    if (found.verdict() == FirstBytes.Verdict.NEED_MORE && n < options.maxBytes()) {
      return false;
    }
    if (found.verdict() == FirstBytes.Verdict.MALFORMED && options.closeMalformed()) {
      return false; // closed by the stage, which counts it
    }
    int index = routeOf(found);
    if (index < 0) {
      return false; // no route: the stage closes it and counts it
    }
    Outcome outcome = outcomeOf(found, n, false);
    peekStats.count(outcome);
    RouteDestination target = targets.get(index);
    if (log.isDebugEnabled()) {
      log.debug("{}: route {} ({}, {}; {} bytes peeked at accept)", conn, target.name(),
          outcome.label(), describe(found), n);
    }
    if (!target.offer(conn)) {
      log.warn("{}: route {} has {} connections waiting already; closed", conn, target.name(),
          target.waiting());
      peekStats.count(Outcome.ROUTE_FULL);
      conn.close();
    }
    return true;
  }

  /** The route of a connection whose bytes gave {@code found}: its rule's, or the default. */
  private int routeOf(FirstBytes found) {
    return found.verdict() == FirstBytes.Verdict.FOUND ? table.match(found)
        : table.fallbackIndex();
  }

  /** How a decided connection is counted (not for MALFORMED closed). */
  private Outcome outcomeOf(FirstBytes found, int n, boolean last) {
    switch (found.verdict()) {
      case FOUND:
        return table.match(found) == table.fallbackIndex() ? Outcome.NO_MATCH : Outcome.MATCHED;
      case NOT_THIS_PROTOCOL:
        return Outcome.UNRECOGNISED;
      case MALFORMED:
        return Outcome.MALFORMED_DEFAULT;
      default:
        return n >= options.maxBytes() ? Outcome.TOO_LARGE : Outcome.TIMEOUT;
    }
  }

  /** Peeks at what the client sent so far and decides if it can; {@code last}: no more waiting. */
  private void examine(Peeking p, boolean last) {
    int n;
    try {
      n = MsgPeek.peek(dev.handoff.common.internal.JdkNioInternals.descriptorOf(p.channel), buffer,
          options.maxBytes());
    } catch (IOException e) {
      log.debug("{}: reset while its first bytes were awaited ({})", p.conn, e.getMessage());
      close(p, Outcome.CLIENT_GONE);
      return;
    }
    if (n < 0) {
      log.debug("{}: closed by the client before it sent anything", p.conn);
      close(p, Outcome.CLIENT_GONE);
      return;
    }
    if (n == 0) {
      if (last) {
        route(p, table.fallbackIndex(), Outcome.TIMEOUT, FirstBytes.NEED_MORE, 0);
      }
      return; // still OP_READ: readiness says when the first bytes come
    }
    FirstBytes found = FirstBytes.parse(buffer, n);
    switch (found.verdict()) {
      case FOUND -> {
        int index = table.match(found);
        route(p, index, index == table.fallbackIndex() ? Outcome.NO_MATCH : Outcome.MATCHED,
            found, n);
      }
      case NOT_THIS_PROTOCOL -> route(p, table.fallbackIndex(), Outcome.UNRECOGNISED, found, n);
      case MALFORMED -> {
        if (options.closeMalformed()) {
          log.debug("{}: malformed first bytes ({} peeked); closed (--peek-malformed=close)",
              p.conn, n);
          close(p, Outcome.MALFORMED_CLOSED);
        } else {
          route(p, table.fallbackIndex(), Outcome.MALFORMED_DEFAULT, found, n);
        }
      }
      default -> { // NEED_MORE
        if (n >= options.maxBytes()) {
          route(p, table.fallbackIndex(), Outcome.TOO_LARGE, found, n);
        } else if (last) {
          route(p, table.fallbackIndex(), Outcome.TIMEOUT, found, n);
        } else {
          stall(p, n);
        }
      }
    }
  }

  /** Part of a head has arrived: peek again on a timer, as the socket stays readable. */
  private void stall(Peeking p, int n) {
    if (n > p.seen) {
      p.seen = n;
      p.recheckAfter = MIN_RECHECK_NANOS;
    } else {
      p.recheckAfter = Math.min(MAX_RECHECK_NANOS, p.recheckAfter * 2);
    }
    p.lookAgainAt(System.nanoTime() + p.recheckAfter);
  }

  private void route(Peeking p, int index, Outcome outcome, FirstBytes found, int peeked) {
    if (index < 0) {
      p.drop();
      log.debug("{}: no route matches ({}) and there is no default route; closed", p.conn,
          describe(found));
      finishClose(p, Outcome.NO_ROUTE);
      return;
    }
    peekStats.count(outcome);
    if (log.isDebugEnabled()) {
      log.debug("{}: route {} ({}, {}; {} bytes peeked)", p.conn, targets.get(index).name(),
          outcome.label(), describe(found), peeked);
    }
    p.route = index;
    p.decide();
  }

  /** Gives the decided connections to their routes, in blocking mode and off the selector. */
  private void finishDecided(List<Peeking> decided) {
    for (Peeking p : decided) {
      RouteDestination target = targets.get(p.route);
      peeking.decrementAndGet();
      try {
        p.channel.configureBlocking(true);
      } catch (IOException | RuntimeException e) {
        log.debug("{}: gone before its route took it ({})", p.conn, e.toString());
        peekStats.count(Outcome.CLIENT_GONE);
        p.conn.close();
        continue;
      }
      if (!target.offer(p.conn)) {
        log.warn("{}: route {} has {} connections waiting already; closed", p.conn, target.name(),
            target.waiting());
        peekStats.count(Outcome.ROUTE_FULL);
        p.conn.close();
      }
    }
  }

  private void close(Peeking p, Outcome outcome) {
    p.drop();
    finishClose(p, outcome);
  }

  private void finishClose(Peeking p, Outcome outcome) {
    peekStats.count(outcome);
    peeking.decrementAndGet();
    p.conn.close(); // closing the channel deregisters it too
  }

  private void closeAll() {
    selector.unfinished(p -> {
      p.drop();
      stats.droppedShutdown.increment();
      peeking.decrementAndGet();
      p.conn.close();
    });
    AcceptedConnection conn;
    while ((conn = intake.poll()) != null) {
      stats.droppedShutdown.increment();
      conn.close();
    }
  }

  private static String describe(FirstBytes f) {
    if (f.protocol() == FirstBytes.Protocol.TLS) {
      return "tls sni=" + f.serverName() + " alpn=" + f.alpn();
    }
    if (f.protocol() == FirstBytes.Protocol.HTTP) {
      return "http host=" + f.host() + " path=" + f.path();
    }
    return f.verdict().name().toLowerCase(java.util.Locale.ROOT);
  }
}
