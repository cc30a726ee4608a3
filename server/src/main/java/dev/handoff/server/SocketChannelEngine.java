package dev.handoff.server;

import dev.handoff.common.HandoffHeader;
import dev.handoff.common.internal.JdkNioInternals;
import dev.handoff.common.ReceivedHandoff;
import dev.handoff.server.ConnectionDetacher.Detached;
import java.io.IOException;
import java.net.ProtocolFamily;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Turns each adopted connection into a JDK {@link SocketChannel} and queues it for {@link
 * HandoffAcceptor#accept()}. The queue is bounded: when it is full, handoffs are answered RETRY
 * and the proxy keeps them. Once taken, a channel is the caller's; this engine no longer counts
 * it; a take-over moves those that the caller's {@link AcceptedConnections} pauses (each
 * without unsent bytes or state: what the client sent and the caller did not read stays in the
 * socket), and the others stay with the old app until the caller closes them.
 */
final class SocketChannelEngine implements Engine {
  private final int capacity;
  private final AcceptedConnections accepted;
  /**
   * Paused connections in a take-over, by the {@link Detached} the hand-over knows them by (its
   * channel is null: the caller's SocketChannel is here); an entry leaves when the connection is
   * resumed or released.
   */
  private final Map<Detached, PausedConnection> paused =
      Collections.synchronizedMap(new IdentityHashMap<>());
  /** Guards {@link #queue} and {@link #closed}; waited on by {@link #take} and {@link #awaitIdle}. */
  private final ReentrantLock lock = new ReentrantLock();
  /** Signalled when a connection is queued, and when the engine closes. */
  private final Condition queued = lock.newCondition();
  /** Signalled when the queue empties. */
  private final Condition empty = lock.newCondition();
  private final ArrayDeque<HandedOffChannel> queue = new ArrayDeque<>();
  private boolean closed;

  SocketChannelEngine(int capacity, AcceptedConnections accepted) {
    this.capacity = capacity;
    this.accepted = accepted;
  }

  @Override
  public int liveConnections() {
    lock.lock();
    try {
      return queue.size();
    } finally {
      lock.unlock();
    }
  }

  /** Queues {@code channel}; false if the queue is full or the engine closed. */
  private boolean offer(HandedOffChannel channel) {
    lock.lock();
    try {
      if (closed || queue.size() >= capacity) {
        return false;
      }
      queue.add(channel);
      queued.signal();
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** Removes the head of the queue; the lock is held. */
  private HandedOffChannel next() {
    HandedOffChannel head = queue.poll();
    if (queue.isEmpty()) {
      empty.signalAll();
    }
    return head;
  }

  @Override
  public boolean adopt(ReceivedHandoff handoff, Consumer<Throwable> whenRegistered)
      throws IOException {
    ProtocolFamily family = DescriptorCheck.requireConnectedTcp(handoff);
    int waiting = liveConnections();
    if (waiting >= capacity) {
      throw new IOException("accept queue full (" + waiting + " connections not yet taken)");
    }
    HandoffHeader header = handoff.header();
    if (handoff.pending().length > 0 || handoff.state().length > 0) {
      // A predecessor serving Netty pipelines sent bytes or handler state along: a JDK channel's
      // caller could not take them, so the predecessor keeps the connection.
      throw new IOException("a moved connection with unsent bytes or handler state cannot be"
          + " served as a SocketChannel");
    }
    // Built before release(): if it fails, the handoff still closes the descriptor.
    SocketChannel channel = JdkNioInternals.socketChannel(handoff.descriptor(), family,
        header.effectiveClient());
    handoff.release();
    if (!offer(new HandedOffChannel(channel, Handoff.of(header)))) {
      channel.close(); // raced to a full queue: the proxy's copy is still there (RETRY)
      throw new IOException("accept queue full");
    }
    whenRegistered.accept(null);
    return true;
  }

  /**
   * The next connection, waiting until one is queued, the engine closes, or {@code timeout}
   * ({@code null}: no limit) has passed.
   *
   * @return the connection, or {@code null} if none came in time
   * @throws ClosedChannelException if the engine closed first
   */
  HandedOffChannel take(Duration timeout) throws InterruptedException, ClosedChannelException {
    long left = timeout == null ? Long.MAX_VALUE : timeout.toNanos();
    lock.lockInterruptibly();
    try {
      while (queue.isEmpty()) {
        if (closed) {
          throw new ClosedChannelException();
        }
        if (timeout == null) {
          queued.await();
        } else if (left <= 0) {
          return null;
        } else {
          left = queued.awaitNanos(left);
        }
      }
      return next();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public int awaitIdle(Duration timeout) throws InterruptedException {
    long left = timeout.toNanos();
    lock.lockInterruptibly();
    try {
      while (!queue.isEmpty() && left > 0) {
        left = empty.awaitNanos(left);
      }
      return queue.size();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public List<Supplier<CompletableFuture<Detached>>> movable(boolean stateless) {
    List<Supplier<CompletableFuture<Detached>>> movable = new ArrayList<>();
    for (Supplier<CompletableFuture<PausedConnection>> pause : accepted.movable()) {
      movable.add(() -> pause.get().thenApply(this::detached));
    }
    return movable;
  }

  /** The hand-over's view of a paused connection: its descriptor and header, nothing unsent. */
  private Detached detached(PausedConnection p) {
    if (p == null) {
      return null;
    }
    Detached d = new Detached(null, JdkNioInternals.numberOf(p.connection().channel()),
        p.connection().handoff().toHeader(), new byte[0], new byte[0]);
    paused.put(d, p);
    return d;
  }

  @Override
  public void resume(Detached connection) {
    PausedConnection p = paused.remove(connection);
    if (p != null) {
      p.resume().run();
    }
  }

  @Override
  public void release(Detached connection) {
    PausedConnection p = paused.remove(connection);
    if (p != null) {
      try {
        p.connection().channel().close(); // registered nowhere: close(2), no shutdown
      } catch (IOException e) {
        // closed either way
      }
    }
  }

  /** Closes the connections never taken, and wakes every caller waiting to take one. */
  @Override
  public void close() {
    List<HandedOffChannel> left;
    lock.lock();
    try {
      closed = true;
      left = List.copyOf(queue);
      queue.clear();
      queued.signalAll();
      empty.signalAll();
    } finally {
      lock.unlock();
    }
    for (HandedOffChannel channel : left) {
      try {
        channel.channel().close();
      } catch (IOException e) {
        // closed either way
      }
    }
  }
}
