package dev.handoff.server;

import dev.handoff.common.HandoffHeader;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.epoll.EpollSocketChannel;
import java.io.ByteArrayOutputStream;
import io.netty.channel.EventLoop;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Takes one connection out of the echo engine without closing it, so that a successor app can
 * carry on with it: reading stops, what can be written is written, the bytes still waiting to be
 * echoed are copied out, and the channel leaves its event loop. The descriptor stays open and
 * still belongs to the channel.
 */
final class ConnectionDetacher {
  /**
   * A detached connection: its descriptor number, its header, its unsent bytes and its handlers'
   * exported state.
   */
  record Detached(EpollSocketChannel channel, int fd, HandoffHeader header, byte[] pending,
      byte[] state) {}

  private ConnectionDetacher() {}

  /**
   * Detaches {@code channel} on its event loop, if its state can move with it: a handler of its
   * pipeline implements {@link MigratableHandler}, or {@code stateless} says the pipelines hold
   * nothing but what the socket and the unsent bytes carry.
   *
   * @return the detached connection, or {@code null} if it stays (already closed, its state
   *     cannot move, or its {@link Handoff} attribute was removed). A half-closed one is detached
   *     too: its client's end of file stays with the socket, and the successor sees it once it
   *     has written the unsent bytes
   */
  static CompletableFuture<Detached> detach(EpollSocketChannel channel, boolean stateless) {
    CompletableFuture<Detached> result = new CompletableFuture<>();
    channel.eventLoop().execute(() -> detachNow(channel, stateless, result));
    return result;
  }

  /**
   * How long ago, in ms, the client of {@code channel} last sent data (TCP_INFO's
   * {@code tcpi_last_data_recv}): one getsockopt(2), safe from any thread. {@link Long#MAX_VALUE}
   * if the kernel cannot say (closed meanwhile; a number freed and given to another socket would
   * only misplace it in an order: a hint, not a use of the descriptor). A take-over pauses the
   * quietest first.
   */
  static long quietMillis(EpollSocketChannel channel) {
    try {
      return channel.tcpInfo().lastDataRecv();
    } catch (RuntimeException e) {
      return Long.MAX_VALUE;
    }
  }

  /** How many channels one turn of an event loop pauses in {@link #detachAll}. */
  static final int PAUSES_PER_TURN = 64;

  /**
   * As {@link #detach} for every channel at once (a two-phase take-over's switch), in the order
   * given on each event loop, {@link #PAUSES_PER_TURN} per turn of the loop: the channels not
   * paused yet are read and written between two turns, so that the last ones given (a take-over
   * gives the busiest last) are served until their own turn.
   *
   * @return one future per channel, in the order given; one whose loop stopped first completes
   *     exceptionally
   */
  static List<CompletableFuture<Detached>> detachAll(List<EpollSocketChannel> channels,
      boolean stateless) {
    List<CompletableFuture<Detached>> results = new ArrayList<>(channels.size());
    Map<EventLoop, Turns> byLoop = new LinkedHashMap<>();
    for (EpollSocketChannel channel : channels) {
      CompletableFuture<Detached> result = new CompletableFuture<>();
      results.add(result);
      byLoop.computeIfAbsent(channel.eventLoop(), loop -> new Turns(loop, stateless))
          .add(channel, result);
    }
    byLoop.values().forEach(Turns::next);
    return results;
  }

  /** One event loop's pauses, a turn of the loop at a time. */
  private static final class Turns implements Runnable {
    private final EventLoop loop;
    private final boolean stateless;
    private final List<EpollSocketChannel> channels = new ArrayList<>();
    private final List<CompletableFuture<Detached>> results = new ArrayList<>();
    /** The next channel to pause; touched on the loop only, once started. */
    private int next;

    Turns(EventLoop loop, boolean stateless) {
      this.loop = loop;
      this.stateless = stateless;
    }

    void add(EpollSocketChannel channel, CompletableFuture<Detached> result) {
      channels.add(channel);
      results.add(result);
    }

    /** Runs the next turn on the loop: at once if nothing ran yet, else after its next wait. */
    void next() {
      try {
        if (next == 0) {
          loop.execute(this);
        } else {
          // A task scheduled without delay runs after the loop's next wait for I/O.
          loop.schedule(this, 0, java.util.concurrent.TimeUnit.NANOSECONDS);
        }
      } catch (java.util.concurrent.RejectedExecutionException e) {
        // The loop stopped: its channels are closed, and the pauses left will not run.
        results.subList(next, results.size()).forEach(r -> r.completeExceptionally(e));
      }
    }

    @Override
    public void run() {
      int end = Math.min(channels.size(), next + PAUSES_PER_TURN);
      for (; next < end; next++) {
        detachNow(channels.get(next), stateless, results.get(next));
      }
      if (next < channels.size()) {
        next();
      }
    }
  }

  /** Detaches {@code channel}, on its event loop, completing {@code result}. */
  private static void detachNow(EpollSocketChannel channel, boolean stateless,
      CompletableFuture<Detached> result) {
    try {
      // The facts the successor's header is rebuilt from; a handler that replaced them with
      // null leaves the connection here rather than sending it on with nothing.
      Handoff facts = Handoff.of(channel);
      if (facts == null || !channel.isActive()
          || !MigratedState.canMove(channel.pipeline(), stateless)) {
        result.complete(null);
        return;
      }
      channel.config().setAutoRead(false);
      channel.flush();
      byte[] pending = unsent(channel);
      byte[] state = MigratedState.exportFrom(channel.pipeline());
      HandoffHeader header = facts.toHeader();
      int fd = channel.fd().intValue();
      channel.deregister().addListener(f -> {
        if (f.isSuccess()) {
          result.complete(new Detached(channel, fd, header, pending, state));
        } else {
          channel.config().setAutoRead(true);
          result.complete(null);
        }
      });
    } catch (RuntimeException e) {
      result.completeExceptionally(e);
    }
  }

  /** The bytes in the channel's outbound buffer: read from the client, not yet echoed. */
  private static byte[] unsent(EpollSocketChannel channel) {
    ChannelOutboundBuffer buffer = channel.unsafe().outboundBuffer();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    if (buffer != null) {
      try {
        buffer.forEachFlushedMessage(msg -> {
          if (msg instanceof ByteBuf bytes) {
            bytes.getBytes(bytes.readerIndex(), out, bytes.readableBytes());
          }
          return true;
        });
      } catch (Exception e) {
        throw new IllegalStateException("copy unsent bytes of " + channel, e);
      }
    }
    return out.toByteArray();
  }
}
