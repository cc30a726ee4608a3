package dev.handoff.proxy.accept;

import dev.handoff.common.Closeables;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.internal.JdkNioInternals;
import dev.handoff.common.OriginalClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Looks at the first bytes of every accepted connection when {@code --proxy-protocol-from} is
 * given, before the handoff: from a trusted load balancer it consumes exactly the PROXY protocol
 * header and nothing after it, so that the app reads the client's stream from its first byte; from
 * anyone else it refuses a connection that starts with a PROXY header, and takes nothing.
 *
 * <p>The acceptor's thread takes a first look, without waiting: a load balancer's header is usually
 * there by the accept, and the connection then goes on at once. The others are left to one thread
 * that waits on one JDK {@link Selector} for all of them, each at most
 * {@code --proxy-protocol-timeout}. It looks with MSG_PEEK (junixsocket's native receive; the JDK
 * has no peek), so nothing is consumed until the header is known whole; from a trusted source, a
 * prefix that can only be part of a header is consumed as it comes, so that a level-triggered
 * selector does not report the same bytes again. Untrusted bytes that could still become a
 * signature are looked at again every {@value #RECHECK_MS} ms until they decide or the time is up.
 *
 * <p>Ownership: a channel given to {@link #submit} is this reader's until it closes it (no valid
 * header from a trusted source, a header from an untrusted one, shutdown) or passes it on as an
 * {@link AcceptedConnection}, back in blocking mode and deregistered, to the delivery it was built
 * with. It counts in {@link ProxyStats#held} meanwhile.
 */
public final class ProxyHeaderReader implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(ProxyHeaderReader.class);
  static final int RECHECK_MS = 10;
  /** Enough to see a whole signature (v2's is 12 bytes) and the v2 prefix. */
  private static final int UNTRUSTED_PEEK = ProxyProtocol.V2_PREFIX_LENGTH;

  private final List<Cidr> trusted;
  private final long timeoutNanos;
  private final Consumer<AcceptedConnection> delivery;
  private final ProxyStats stats;
  /** The connections registered with the selector and their deadlines; this reader's thread. */
  private final DeadlineSelector<Waiting> selector;
  private final ConcurrentLinkedQueue<Waiting> incoming = new ConcurrentLinkedQueue<>();
  /**
   * Room for connections being looked at: the acceptor waits for a permit, so that while this
   * reader is held up (the queue after it is full) accepting pauses instead of piling up sockets.
   */
  private final Semaphore room;
  /** The reader thread's buffers. */
  private final Buffers readerSide = new Buffers();
  /** The acceptor thread's, for a first look in {@link #submit} (one acceptor at a time). */
  private final Buffers acceptorSide = new Buffers();

  /** Where one thread peeks to. */
  private static final class Buffers {
    final ByteBuffer peek = ByteBuffer.allocateDirect(ProxyProtocol.MAX_LENGTH);
    final byte[] bytes = new byte[ProxyProtocol.MAX_LENGTH];
  }
  private volatile boolean stopping;

  /** One connection waiting for its first bytes. */
  private static final class Waiting extends DeadlineSelector.Watched {
    final SocketChannel channel;
    final long id;
    final long acceptedMicros;
    final long acceptedNanos;
    final InetSocketAddress peer;
    final InetSocketAddress local;
    final boolean trusted;
    /** Bytes of a trusted source's header consumed so far. */
    byte[] consumed = new byte[0];
    /** The outcome: a header to hand off with, or null to close. */
    HandoffHeader decided;

    Waiting(SocketChannel channel, long id, long acceptedMicros, long acceptedNanos,
        InetSocketAddress peer, InetSocketAddress local, boolean trusted, long deadline) {
      super(deadline);
      this.channel = channel;
      this.id = id;
      this.acceptedMicros = acceptedMicros;
      this.acceptedNanos = acceptedNanos;
      this.peer = peer;
      this.local = local;
      this.trusted = trusted;
    }

    @Override
    public String toString() {
      return "c" + id + " " + peer + " -> " + local;
    }
  }

  /**
   * A reader for the given trusted ranges.
   *
   * @param delivery takes each connection on, as the acceptor would have (it may block while the
   *     queue is full)
   */
  public ProxyHeaderReader(List<Cidr> trusted, Duration timeout, int limit,
      Consumer<AcceptedConnection> delivery, ProxyStats stats) throws IOException {
    try {
      MsgPeek.requireAvailable();
    } catch (IllegalStateException e) {
      throw new IOException(e.getMessage(), e);
    }
    this.trusted = List.copyOf(trusted);
    this.timeoutNanos = timeout.toNanos();
    this.delivery = delivery;
    this.stats = stats;
    this.room = new Semaphore(limit);
    this.selector = new DeadlineSelector<>(100, TimeUnit.MILLISECONDS);
  }

  /** Whether {@code peer} is in one of the trusted ranges. */
  boolean trusts(InetSocketAddress peer) {
    for (Cidr range : trusted) {
      if (range.contains(peer.getAddress())) {
        return true;
      }
    }
    return false;
  }

  /**
   * Takes an accepted connection over until its first bytes are known. Returns at once unless
   * {@code limit} connections are being looked at already: it then waits for room (the caller,
   * the acceptor, pauses accepting meanwhile), or closes the connection if this reader stops.
   *
   * @param channel the connection, in blocking mode, owned by this reader from now on
   */
  void submit(SocketChannel channel, long id, long acceptedMicros, long acceptedNanos,
      InetSocketAddress peer, InetSocketAddress local) {
    Waiting w = new Waiting(channel, id, acceptedMicros, acceptedNanos, peer, local,
        trusts(peer), acceptedNanos + timeoutNanos);
    // A first look on the acceptor's thread: a load balancer sends its header with the connection,
    // so it is usually there already, and the connection goes on without a thread hop. Never
    // waits: the socket is non-blocking and only bytes a peek has shown are read.
    try {
      channel.configureBlocking(false);
    } catch (IOException e) {
      log.debug("{}: gone before its first bytes: {}", w, e.getMessage());
      Closeables.closeQuietly(channel);
      return;
    }
    inspect(w, acceptorSide);
    if (w.done()) {
      finish(w);
      return;
    }
    if (!room.tryAcquire()) {
      stats.acceptPauses.increment();
      stats.acceptPaused.set(1);
      log.warn("connections waiting for their first bytes fill the PROXY protocol reader:"
          + " accepting paused; new clients wait in the kernel backlog");
      try {
        while (!room.tryAcquire(50, TimeUnit.MILLISECONDS)) {
          if (stopping) {
            stats.droppedShutdown.increment();
            Closeables.closeQuietly(channel);
            return;
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        stats.droppedShutdown.increment();
        Closeables.closeQuietly(channel);
        return;
      } finally {
        stats.acceptPaused.set(0);
      }
      log.info("accepting again");
    }
    stats.held.incrementAndGet();
    incoming.add(w);
    if (stopping) {
      closeIncoming(); // raced with stop(): the loop may have finished
    }
    selector.wakeup();
  }

  /** Makes {@link #run} close what waits and return. */
  public void stop() {
    stopping = true;
    selector.wakeup();
  }

  @Override
  public void run() {
    try {
      selector.run(new DeadlineSelector.Stage<>() {
        @Override
        public void admit(long now) {
          Waiting arrived;
          while ((arrived = incoming.poll()) != null) {
            register(arrived);
          }
        }

        @Override
        public void look(Waiting w) {
          inspect(w);
        }

        @Override
        public void expired(Waiting w) {
          timedOut(w);
        }

        @Override
        public void finish(List<Waiting> decided) {
          for (Waiting w : decided) {
            release();
            ProxyHeaderReader.this.finish(w);
          }
        }

        @Override
        public boolean over() {
          return stopping;
        }
      });
    } catch (IOException | RuntimeException e) {
      log.error("PROXY protocol reader failed; closing the connections it held: {}", e.toString());
    } finally {
      stopping = true; // from now on submit closes what it is given
      closeAll();
    }
  }

  private void register(Waiting w) {
    try {
      selector.watch(w.channel, w);
    } catch (IOException | RuntimeException e) {
      log.debug("{}: gone before its first bytes: {}", w, e.getMessage());
      w.drop();
      release();
      Closeables.closeQuietly(w.channel);
      return;
    }
    if (w.lookAgainAt() == 0) {
      inspect(w); // bytes may have come since the acceptor looked
    }
  }

  /** Peeks at what arrived and decides if it can, on the reader's thread. */
  private void inspect(Waiting w) {
    inspect(w, readerSide);
  }

  /** Peeks at what arrived (the channel non-blocking) and decides if it can. */
  private void inspect(Waiting w, Buffers b) {
    int max = w.trusted ? ProxyProtocol.MAX_LENGTH - w.consumed.length : UNTRUSTED_PEEK;
    int n;
    try {
      b.peek.clear();
      n = MsgPeek.peek(JdkNioInternals.descriptorOf(w.channel), b.peek, max);
    } catch (IOException e) {
      log.debug("{}: reset before its first bytes: {}", w, e.getMessage());
      if (w.trusted) {
        stats.proxyHeaderInvalid.increment();
      }
      decide(w, null);
      return;
    }
    if (n == 0) {
      return; // nothing yet
    }
    if (n < 0) { // end of stream
      if (w.trusted) {
        stats.proxyHeaderInvalid.increment();
        log.debug("{}: closed by the load balancer before a whole PROXY header ({} bytes)", w,
            w.consumed.length);
        decide(w, null);
      } else {
        decide(w, plainHeader(w)); // the app sees what was sent and the end of it
      }
      return;
    }
    int have = w.consumed.length;
    System.arraycopy(w.consumed, 0, b.bytes, 0, have);
    b.peek.get(0, b.bytes, have, n);
    if (w.trusted) {
      inspectTrusted(w, have, n, b);
    } else {
      inspectUntrusted(w, n, b);
    }
  }

  private void inspectTrusted(Waiting w, int have, int n, Buffers b) {
    ProxyProtocol.Result r = ProxyProtocol.parse(b.bytes, 0, have + n);
    switch (r.status()) {
      case PROXY -> {
        if (!consume(w, r.length() - have)) {
          stats.proxyHeaderInvalid.increment();
          decide(w, null);
          return;
        }
        stats.proxyHeaderRead.increment();
        ProxyProtocol.Header h = r.header();
        OriginalClient origin = h.local() || h.source() == null ? null
            : new OriginalClient(h.source(), h.authority(), h.uniqueId());
        HandoffHeader header = new HandoffHeader(w.id, w.acceptedMicros, w.peer, w.local, origin);
        log.debug("{}: {} ({} bytes consumed)", header, h, r.length());
        decide(w, header);
      }
      case NEED_MORE -> {
        // All of it is header if anything is: take it, so the selector reports only new bytes.
        if (!consume(w, n)) {
          stats.proxyHeaderInvalid.increment();
          decide(w, null);
        }
      }
      default -> {
        stats.proxyHeaderInvalid.increment();
        log.debug("{}: from a trusted source without a valid PROXY header ({}); closed", w,
            r.status() == ProxyProtocol.Status.NOT_PROXY ? "no signature" : r.problem());
        decide(w, null);
      }
    }
  }

  private void inspectUntrusted(Waiting w, int n, Buffers b) {
    if (ProxyProtocol.startsWithSignature(b.bytes, 0, n)) {
      stats.proxyHeaderRefused.increment();
      log.debug("{}: sent a PROXY header but is not in --proxy-protocol-from; refused", w);
      decide(w, null);
      return;
    }
    if (ProxyProtocol.parse(b.bytes, 0, n).status() == ProxyProtocol.Status.NEED_MORE) {
      // Could still become a signature: look again shortly rather than spin on the same bytes.
      w.lookAgainAt(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(RECHECK_MS));
      return;
    }
    decide(w, plainHeader(w));
  }

  /** Reads exactly {@code count} bytes that a peek has shown are there, adding them to consumed. */
  private boolean consume(Waiting w, int count) {
    int have = w.consumed.length;
    byte[] more = Arrays.copyOf(w.consumed, have + count);
    ByteBuffer into = ByteBuffer.wrap(more, have, count);
    try {
      for (int i = 0; i < 4 && into.hasRemaining(); i++) {
        if (w.channel.read(into) < 0) {
          break;
        }
      }
    } catch (IOException e) {
      log.debug("{}: reading its PROXY header: {}", w, e.getMessage());
      return false;
    }
    if (into.hasRemaining()) {
      log.debug("{}: {} bytes peeked but fewer read", w, count);
      return false;
    }
    w.consumed = more;
    return true;
  }

  private void timedOut(Waiting w) {
    if (w.trusted) {
      stats.proxyHeaderInvalid.increment();
      log.debug("{}: no whole PROXY header within {} ms ({} bytes); closed", w,
          TimeUnit.NANOSECONDS.toMillis(timeoutNanos), w.consumed.length);
      decide(w, null);
    } else {
      decide(w, plainHeader(w)); // sent nothing, or the start of a signature only: not a header
    }
  }

  private static HandoffHeader plainHeader(Waiting w) {
    return new HandoffHeader(w.id, w.acceptedMicros, w.peer, w.local);
  }

  /**
   * Ends the watch with an outcome; the reader hands the connection on once it is deregistered,
   * as only then can blocking mode return.
   */
  private static void decide(Waiting w, HandoffHeader header) {
    w.decided = header;
    w.decide();
  }

  /** Hands a decided, unregistered connection on in blocking mode, or closes it. */
  private void finish(Waiting w) {
    if (w.decided == null) {
      Closeables.closeQuietly(w.channel);
      return;
    }
    try {
      w.channel.configureBlocking(true);
    } catch (IOException | RuntimeException e) {
      log.debug("{}: gone before its handoff: {}", w, e.getMessage());
      Closeables.closeQuietly(w.channel);
      return;
    }
    delivery.accept(new AcceptedConnection(w.decided, w.channel, w.acceptedNanos, stats.held));
  }

  private void closeIncoming() {
    Waiting w;
    while ((w = incoming.poll()) != null) {
      release();
      stats.droppedShutdown.increment();
      Closeables.closeQuietly(w.channel);
    }
  }

  private void closeAll() {
    closeIncoming();
    selector.unfinished(w -> {
      release();
      if (!w.done() || w.decided != null) {
        stats.droppedShutdown.increment();
      }
      w.drop();
      Closeables.closeQuietly(w.channel);
    });
    selector.close(); // completes the closes deferred while the channels were registered
    closeIncoming();
  }

  /** A connection leaves this reader: one less held, room for the next. */
  private void release() {
    stats.held.decrementAndGet();
    room.release();
  }
}
