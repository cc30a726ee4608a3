package dev.handoff.examples.http;

import dev.handoff.server.MigratableHandler;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import java.nio.ByteBuffer;

/**
 * Lets an HTTP/1.1 connection move to a successor app in a take-over only at a request boundary,
 * and carries its request count with it. One per connection; it goes first in the pipeline,
 * before the {@code HttpServerCodec}, and its {@link #boundary()} goes right after the codec:
 *
 * <pre>{@code
 * HttpMoveGuard guard = new HttpMoveGuard();
 * p.addLast("move-guard", guard);           // sees the raw bytes the codec is given
 * p.addLast("http-codec", new HttpServerCodec());
 * p.addLast("request-boundary", guard.boundary()); // sees requests begin and responses end
 * p.addLast(... HttpObjectAggregator, HttpServerKeepAliveHandler, the application ...)
 * }</pre>
 *
 * <p>A connection may move ({@link #canMove}) only when all of these hold:
 *
 * <ul>
 *   <li>every request whose head the codec decoded has been answered: the final (non-1xx)
 *       response's last part was written to the socket, so neither the aggregator nor the
 *       keep-alive handler nor the codec's encoder holds anything for it;
 *   <li>the decoder is between requests: the last bytes it was given ended exactly where a
 *       request ended. The guard knows where by watching the read buffer the decoder works in
 *       (it hands the decoder each read buffer and keeps a reference to it) and noting its read
 *       position when the decoder emits the end of a request. Bytes past that point mean the
 *       decoder has begun another request: a request line or headers cut across TCP segments
 *       (it keeps them as parsed state, or as bytes left in the buffer), or a pipelined request;
 *   <li>the channel is open.
 * </ul>
 *
 * <p>When the decoder keeps part of a read in its buffer, the guard adds the next read's bytes to
 * that same buffer itself and passes the decoder an empty read, so the buffer the decoder works in
 * is always one the guard can see. This relies on how {@code ByteToMessageDecoder} in Netty 4.2
 * merges reads (a decoder holding nothing takes a contiguous read buffer as its own); {@code
 * HttpMoveGuardTest} pins it down.
 *
 * <p>What moves, then, is a keep-alive connection idle between requests: its socket (anything the
 * client sends from now on waits in the kernel and is read by the successor), the response bytes
 * not yet taken by the socket (the library carries them), and this handler's state: the number of
 * requests answered so far, 8 bytes. A connection in the middle of a request is not moved: it
 * stays with the old app, which answers the request there and serves the connection until it
 * closes or the old app's drain deadline passes (then it is closed). A client that keeps such a
 * connection busy beyond the drain deadline sees it closed.
 */
public final class HttpMoveGuard extends ChannelDuplexHandler implements MigratableHandler {
  private final Boundary boundary = new Boundary();
  /** Requests whose head was decoded on this connection, here and on the apps before. */
  private long started;
  /** Of those, the ones whose final response was written in full. */
  private long answered;
  /** A read buffer the decoder kept as its own because a request in it was incomplete. */
  private ByteBuf held;
  /** The buffer the decoder reads from while a read passes through it; null between reads. */
  private ByteBuf current;
  /** Read position in {@link #current} where the decoder last ended a request; -1 if not yet. */
  private int boundaryAt = -1;
  /** The decoder has been given bytes past the end of the last request it decoded. */
  private boolean midRequest;

  /** The part that goes right after the codec. */
  public ChannelHandler boundary() {
    return boundary;
  }

  /** Requests begun on this connection so far, the current one included. */
  public long requests() {
    return started;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof ByteBuf in) || !in.isReadable()) {
      ctx.fireChannelRead(msg);
      return;
    }
    ByteBuf watched;
    if (held != null) {
      // The decoder kept this buffer: add the new bytes to it here, so that it stays the one the
      // decoder reads in (its own merge could move everything into a bigger copy out of sight),
      // and let the decoder go on with an empty read.
      watched = held;
      watched.writeBytes(in);
      in.release();
      read(ctx, Unpooled.EMPTY_BUFFER, watched);
    } else {
      watched = in;
      if (!watched.isContiguous()) {
        // The decoder would copy it, and what it kept of it would be out of sight.
        watched = ctx.alloc().buffer(in.readableBytes()).writeBytes(in);
        in.release();
      }
      // Holding nothing, the decoder takes this very buffer as its own and reads in it; the
      // extra reference keeps it ours to look at afterwards.
      watched.retain();
      read(ctx, watched, watched);
    }
    if (watched.isReadable()) {
      held = watched; // the decoder keeps bytes of an incomplete request in it
      midRequest = true;
    } else {
      midRequest = boundaryAt != watched.writerIndex();
      held = null;
      watched.release();
    }
  }

  private void read(ChannelHandlerContext ctx, ByteBuf msg, ByteBuf decoderBuffer) {
    current = decoderBuffer;
    boundaryAt = -1;
    try {
      ctx.fireChannelRead(msg);
    } finally {
      current = null;
    }
  }

  @Override
  public boolean canMove(ChannelHandlerContext ctx) {
    return ctx.channel().isActive() && started == answered && !midRequest && held == null;
  }

  @Override
  public byte[] exportState(ChannelHandlerContext ctx) {
    return ByteBuffer.allocate(Long.BYTES).putLong(answered).array();
  }

  @Override
  public void importState(ChannelHandlerContext ctx, byte[] state) {
    if (state.length == Long.BYTES) {
      answered = ByteBuffer.wrap(state).getLong();
      started = answered;
    }
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    if (held != null) {
      held.release();
      held = null;
    }
  }

  /**
   * Counts request heads coming out of the decoder and final responses going into the encoder,
   * and notes where in its buffer the decoder ended each request.
   */
  private final class Boundary extends ChannelDuplexHandler {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof HttpRequest) {
        started++;
      }
      if (msg instanceof LastHttpContent && current != null) {
        boundaryAt = current.readerIndex(); // the decoder has read exactly this request so far
      }
      ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
      boolean interim = msg instanceof HttpResponse r
          && r.status().codeClass() == HttpStatusClass.INFORMATIONAL;
      if (msg instanceof LastHttpContent && !interim) {
        promise = promise.unvoid();
        promise.addListener(f -> {
          if (f.isSuccess()) {
            answered++;
          }
        });
      }
      ctx.write(msg, promise);
    }
  }
}
