package dev.handoff.server;

import dev.handoff.common.HandoffHeader;
import dev.handoff.common.internal.JdkNioInternals;
import dev.handoff.common.ReceivedHandoff;
import dev.handoff.server.ConnectionDetacher.Detached;
import java.io.IOException;
import java.net.ProtocolFamily;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Turns each adopted connection into a JDK {@link SocketChannel} and queues it for {@link
 * HandoffAcceptor#accept()}. The queue is bounded: when it is full, handoffs are answered RETRY
 * and the proxy keeps them. Once taken, a channel is the caller's; this engine no longer counts
 * it, and a take-over moves none of them (they stay with the old app until the caller closes
 * them).
 */
final class SocketChannelEngine implements Engine {
  private final BlockingQueue<HandedOffChannel> queue;

  SocketChannelEngine(int capacity) {
    this.queue = new ArrayBlockingQueue<>(capacity);
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
    return List.of();
  }

  @Override
  public void resume(Detached connection) {
    throw new IllegalStateException("nothing is detached from a socket-channel engine");
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
