package dev.handoff.app;

import dev.handoff.common.HandoffHeader;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.epoll.EpollSocketChannel;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;

/**
 * Takes one connection out of the echo engine without closing it, so that a successor app can
 * carry on with it: reading stops, what can be written is written, the bytes still waiting to be
 * echoed are copied out, and the channel leaves its event loop. The descriptor stays open and
 * still belongs to the channel.
 */
final class ConnectionDetacher {
  /** A detached connection: its descriptor number, its header and its unsent bytes. */
  record Detached(EpollSocketChannel channel, int fd, HandoffHeader header, byte[] pending) {}

  private ConnectionDetacher() {}

  /**
   * Detaches {@code channel} on its event loop.
   *
   * @return the detached connection, or {@code null} if it is already closed. A half-closed one is
   *     detached too: its client's end of file stays with the socket, and the successor sees it
   *     once it has written the unsent bytes
   */
  static CompletableFuture<Detached> detach(EpollSocketChannel channel) {
    CompletableFuture<Detached> result = new CompletableFuture<>();
    channel.eventLoop().execute(() -> {
      try {
        if (!channel.isActive()) {
          result.complete(null);
          return;
        }
        channel.config().setAutoRead(false);
        channel.flush();
        byte[] pending = unsent(channel);
        HandoffHeader header = header(channel);
        int fd = channel.fd().intValue();
        channel.deregister().addListener(f -> {
          if (f.isSuccess()) {
            result.complete(new Detached(channel, fd, header, pending));
          } else {
            channel.config().setAutoRead(true);
            result.complete(null);
          }
        });
      } catch (RuntimeException e) {
        result.completeExceptionally(e);
      }
    });
    return result;
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

  private static HandoffHeader header(EpollSocketChannel channel) {
    HandoffHeader header = channel.attr(EchoEngine.HEADER).get();
    if (header != null) {
      return header;
    }
    // Accepted on --direct-port: no proxy header; describe it from the socket itself.
    return new HandoffHeader(0, 0, (InetSocketAddress) channel.remoteAddress(),
        (InetSocketAddress) channel.localAddress());
  }
}
