package dev.handoff.examples.http;

import dev.handoff.server.MigratableHandler;
import io.netty.buffer.ByteBuf;
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
 * <p>A connection may move ({@link #canMove}) only when all three hold:
 *
 * <ul>
 *   <li>every request whose head the codec decoded has been answered: the final (non-1xx)
 *       response's last part was written to the socket, so neither the aggregator nor the
 *       keep-alive handler nor the codec's encoder holds anything for it;
 *   <li>the codec's decoder holds no bytes: when it keeps part of a read (a request line or
 *       headers cut across TCP segments, or the start of a pipelined request), the read buffer
 *       it kept is watched until it is used up. If the decoder moves the bytes into a buffer of
 *       its own (a large pipelined burst), the guard cannot see it become empty and keeps the
 *       connection here until it ends;
 *   <li>the channel is open.
 * </ul>
 *
 * <p>What moves, then, is a keep-alive connection idle between requests: its socket (anything the
 * client sent since is still in the kernel and is read by the successor), the response bytes not
 * yet taken by the socket (the library carries them), and this handler's state: the number of
 * requests answered so far, 8 bytes. A connection in the middle of a request is not moved: it
 * stays with the old app, which answers the request there and serves the connection until it
 * closes or the old app's drain deadline passes (then it is closed). Nothing is lost either way;
 * a client that keeps such a connection busy beyond the drain deadline sees it closed.
 */
public final class HttpMoveGuard extends ChannelDuplexHandler implements MigratableHandler {
  private final Boundary boundary = new Boundary();
  /** Requests whose head was decoded on this connection, here and on the apps before. */
  private long started;
  /** Of those, the ones whose final response was written in full. */
  private long answered;
  /** A read buffer the decoder kept as its own because a request in it was incomplete. */
  private ByteBuf held;

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
    forgetHeldIfUsedUp();
    if (!(msg instanceof ByteBuf in) || !in.isReadable() || held != null) {
      // Nothing to watch, or the decoder already has bytes of its own and merges these into them.
      ctx.fireChannelRead(msg);
      return;
    }
    ByteBuf buf = in;
    if (!buf.isContiguous()) {
      // The decoder copies a non-contiguous buffer, and then its leftovers would be out of sight.
      buf = ctx.alloc().buffer(in.readableBytes()).writeBytes(in);
      in.release();
    }
    // The decoder, holding nothing, takes this very buffer as its cumulation: whatever it leaves
    // readable in it is what it holds. The extra reference keeps it ours to look at.
    buf.retain();
    ctx.fireChannelRead(buf);
    if (buf.isReadable()) {
      held = buf;
    } else {
      buf.release();
    }
  }

  private void forgetHeldIfUsedUp() {
    if (held != null && !held.isReadable()) {
      held.release();
      held = null;
    }
  }

  @Override
  public boolean canMove(ChannelHandlerContext ctx) {
    forgetHeldIfUsedUp();
    return ctx.channel().isActive() && started == answered && held == null;
  }

  @Override
  public byte[] exportState(ChannelHandlerContext ctx) {
    forgetHeldIfUsedUp();
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

  /** Counts request heads coming out of the decoder and final responses going into the encoder. */
  private final class Boundary extends ChannelDuplexHandler {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof HttpRequest) {
        started++;
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
