package dev.handoff.proxy.accept;

import dev.handoff.common.Closeables;
import dev.handoff.common.HandoffHeader;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Accepts TCP connections and queues them for handoff. Runs on its own thread until the server
 * channel is closed.
 *
 * <p>When the queue is full (no app, or every app slow) it stops accepting until there is room
 * again: clients then wait in the kernel's backlog, and the proxy's memory does not grow.
 *
 * <p>When accept fails for lack of descriptors (EMFILE, ENFILE) it backs off instead of spinning:
 * the pending connections wait in the kernel's backlog until descriptors free up.
 */
public final class TcpAcceptor implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(TcpAcceptor.class);
  private static final long MAX_BACKOFF_MS = 1000;

  private final ServerSocketChannel server;
  private final BlockingQueue<AcceptedConnection> queue;
  /** Sends a connection at once if it can (a route's dispatcher, or nothing). */
  private final Predicate<AcceptedConnection> sendNow;
  private final ProxyStats stats;
  private volatile long nextId = 1;
  private volatile boolean stopping;
  /** The proxy is being upgraded: leave the loop, but keep what was accepted (see #finish). */
  private volatile boolean finishing;
  /** With --proxy-protocol-from: looks at each connection's first bytes before it goes on. */
  private ProxyHeaderReader headers;

  /** An acceptor that offers each connection to {@code sendNow} before queueing it. */
  public TcpAcceptor(ServerSocketChannel server, BlockingQueue<AcceptedConnection> queue,
      Predicate<AcceptedConnection> sendNow, ProxyStats stats) {
    this.sendNow = sendNow;
    this.server = server;
    this.queue = queue;
    this.stats = stats;
  }

  /**
   * Makes {@link #run} return once the server channel is closed, without an interrupt: this thread
   * may be sending a handoff, and the JDK closes a channel whose blocked thread is interrupted.
   */
  public void stop() {
    stopping = true;
  }

  /**
   * Makes {@link #run} return once the server channel is closed, like {@link #stop}, but a
   * connection accepted and waiting for room in the queue still goes into it: a proxy upgrade
   * stops accepting, not serving.
   */
  public void finish() {
    finishing = true;
  }

  /** The next connection id: a later acceptor of the same proxy run continues from it. */
  public long nextId() {
    return nextId;
  }

  /**
   * Gives each accepted connection to {@code reader} first, which passes it on to
   * {@link #deliver} once its PROXY header is read (or closes it); call before {@link #run}.
   */
  public TcpAcceptor withHeaderReader(ProxyHeaderReader reader) {
    headers = reader;
    return this;
  }

  /** Numbers this acceptor's connections from {@code id} on; call before {@link #run}. */
  public TcpAcceptor startingAt(long id) {
    nextId = id;
    return this;
  }

  @Override
  public void run() {
    long backoffMs = 0;
    while (server.isOpen() && !stopping && !finishing && !Thread.currentThread().isInterrupted()) {
      SocketChannel channel;
      try {
        channel = server.accept();
      } catch (ClosedChannelException e) {
        break; // shutdown closed the server channel
      } catch (IOException e) {
        backoffMs = backoffMs == 0 ? 10 : Math.min(MAX_BACKOFF_MS, backoffMs * 2);
        if (backoffMs < MAX_BACKOFF_MS) {
          log.warn("accept on {}: {}; retrying in {} ms", localAddress(), e.getMessage(), backoffMs);
        }
        sleep(backoffMs);
        continue;
      }
      backoffMs = 0;
      handOver(channel);
    }
    log.debug("acceptor stopped");
  }

  private void handOver(SocketChannel channel) {
    AcceptedConnection conn;
    try {
      if (headers != null) {
        InetSocketAddress peer = (InetSocketAddress) channel.getRemoteAddress();
        InetSocketAddress local = (InetSocketAddress) channel.getLocalAddress();
        long id = nextId++;
        stats.accepted.increment();
        log.debug("c{} {} -> {}: accepted; its first bytes are looked at", id, peer, local);
        headers.submit(channel, id, nowMicros(), System.nanoTime(), peer, local);
        return;
      }
      HandoffHeader header = new HandoffHeader(nextId++, nowMicros(),
          (InetSocketAddress) channel.getRemoteAddress(),
          (InetSocketAddress) channel.getLocalAddress());
      conn = new AcceptedConnection(header, channel, System.nanoTime(), stats.held);
    } catch (IOException e) {
      // The client reset before we looked at it; nothing to hand off.
      log.debug("accepted connection gone before handoff: {}", e.getMessage());
      Closeables.closeQuietly(channel);
      return;
    }
    stats.accepted.increment();
    log.debug("{}: accepted", conn);
    deliver(conn);
  }

  /**
   * Sends the connection at once or queues it; while the queue is full, waits for room (and so
   * pauses accepting when called on the acceptor's thread).
   */
  public void deliver(AcceptedConnection conn) {
    if (sendNow.test(conn) || queue.offer(conn)) {
      return;
    }
    stats.acceptPauses.increment();
    log.warn("{} connections wait for an app: accepting paused; new clients wait in the kernel"
        + " backlog", queue.size());
    stats.acceptPaused.set(1);
    try {
      while (!queue.offer(conn, 50, TimeUnit.MILLISECONDS)) {
        if (stopping) {
          stats.droppedShutdown.increment();
          log.debug("{}: closed, shutting down before an app took it", conn);
          conn.close();
          return;
        }
      }
    } catch (InterruptedException e) {
      stats.droppedShutdown.increment();
      conn.close();
      Thread.currentThread().interrupt();
      return;
    } finally {
      stats.acceptPaused.set(0);
    }
    log.info("accepting again");
  }

  private String localAddress() {
    try {
      return String.valueOf(server.getLocalAddress());
    } catch (IOException e) {
      return "?";
    }
  }

  private static long nowMicros() {
    java.time.Instant now = java.time.Instant.now();
    return now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
