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
   * As {@link #detach} for every channel at once, with one task per event loop that pauses all of
   * that loop's channels in a row (a two-phase take-over's switch), instead of one task each.
   *
   * @return one future per channel, in the order given
   */
  static List<CompletableFuture<Detached>> detachAll(List<EpollSocketChannel> channels,
      boolean stateless) {
    List<CompletableFuture<Detached>> results = new ArrayList<>(channels.size());
    Map<EventLoop, List<Runnable>> byLoop = new LinkedHashMap<>();
    for (EpollSocketChannel channel : channels) {
      CompletableFuture<Detached> result = new CompletableFuture<>();
      results.add(result);
      byLoop.computeIfAbsent(channel.eventLoop(), loop -> new ArrayList<>())
          .add(() -> detachNow(channel, stateless, result));
    }
    byLoop.forEach((loop, pauses) -> loop.execute(() -> pauses.forEach(Runnable::run)));
    return results;
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
