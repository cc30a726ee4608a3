package dev.handoff.server;

import dev.handoff.common.HandoffHeader;
import dev.handoff.common.JdkNioInternals;
import dev.handoff.common.ReceivedHandoff;
import dev.handoff.server.ConnectionDetacher.Detached;
import java.io.IOException;
import java.net.ProtocolFamily;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Turns each adopted connection into a JDK {@link SocketChannel} and queues it for {@link
 * HandoffAcceptor#accept()}. The queue is bounded: when it is full, handoffs are answered RETRY
 * and the proxy keeps them. Once taken, a channel is the caller's; this engine no longer counts
 * it; a take-over moves those that the caller's {@link AcceptedConnections} pauses (each
 * without unsent bytes or state: what the client sent and the caller did not read stays in the
 * socket), and the others stay with the old app until the caller closes them.
 */
final class SocketChannelEngine implements Engine {
  private final BlockingQueue<HandedOffChannel> queue;
  private final AcceptedConnections accepted;
  /**
   * Paused connections in a take-over, by the {@link Detached} the hand-over knows them by (its
   * channel is null: the caller's SocketChannel is here); an entry leaves when the connection is
   * resumed or released.
   */
  private final Map<Detached, PausedConnection> paused =
      Collections.synchronizedMap(new IdentityHashMap<>());

  SocketChannelEngine(int capacity, AcceptedConnections accepted) {
    this.queue = new ArrayBlockingQueue<>(capacity);
    this.accepted = accepted;
  }

  @Override
  public int liveConnections() {
    return queue.size();
  }

  @Override
  public boolean adopt(ReceivedHandoff handoff, Consumer<Throwable> whenRegistered)
      throws IOException {
    ProtocolFamily family = DescriptorCheck.requireConnectedTcp(handoff);
    if (queue.remainingCapacity() == 0) {
      throw new IOException("accept queue full (" + queue.size() + " connections not yet taken)");
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
    if (!queue.offer(new HandedOffChannel(channel, Handoff.of(header)))) {
      channel.close(); // raced to a full queue: the proxy's copy is still there (RETRY)
      throw new IOException("accept queue full");
    }
    whenRegistered.accept(null);
    return true;
  }

  /** The next connection, waiting up to {@code timeout}; {@code null} if none came. */
  HandedOffChannel poll(long timeout, TimeUnit unit) throws InterruptedException {
    return queue.poll(timeout, unit);
  }

  @Override
  public int awaitIdle(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!queue.isEmpty() && System.nanoTime() - deadline < 0) {
      TimeUnit.MILLISECONDS.sleep(20);
    }
    return queue.size();
  }

  @Override
  public List<CompletableFuture<Detached>> detachAll(boolean stateless) {
    List<CompletableFuture<Detached>> detaching = new ArrayList<>();
    for (CompletableFuture<PausedConnection> pausing : accepted.pauseAll()) {
      detaching.add(pausing.thenApply(this::detached));
    }
    return detaching;
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

  /** Closes the connections never taken. */
  @Override
  public void close() {
    HandedOffChannel left;
    while ((left = queue.poll()) != null) {
      try {
        left.channel().close();
      } catch (IOException e) {
        // closed either way
      }
    }
  }
}
