package dev.handoff.app;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import java.io.IOException;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes back every byte it reads; one instance is the whole pipeline of every connection, so that
 * a connection costs one handler added, not an initializer and a chain.
 *
 * <ul>
 *   <li>Counts the bytes echoed.
 *   <li>Stops reading from a client while it is not taking what is written to it (the outbound
 *       buffer is above its high-water mark) and reads again once it has caught up: a slow reader
 *       costs at most that much memory.
 *   <li>A client that half-closed (sent FIN, still reading) gets everything still to be written,
 *       then the connection is closed. Needs {@code ALLOW_HALF_CLOSURE}.
 * </ul>
 */
@Sharable
final class EchoHandler extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(EchoHandler.class);

  private final LongAdder bytesEchoed;
  private final Consumer<Channel> onOpen;

  /**
   * @param bytesEchoed added to for every byte read (and so written back)
   * @param onOpen told of each connection as the handler joins its pipeline
   */
  EchoHandler(LongAdder bytesEchoed, Consumer<Channel> onOpen) {
    this.bytesEchoed = bytesEchoed;
    this.onOpen = onOpen;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    onOpen.accept(ctx.channel());
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof ByteBuf buf) {
      bytesEchoed.add(buf.readableBytes());
    }
    ctx.write(msg, ctx.voidPromise());
    Channel ch = ctx.channel();
    if (!ch.isWritable()) {
      // Pause before flushing: the flush may drain everything and report writability right away,
      // and pausing after that would never be undone.
      ch.config().setAutoRead(false);
      ctx.flush();
      if (ch.isWritable()) {
        ch.config().setAutoRead(true);
      }
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    ctx.flush();
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (ctx.channel().isWritable()) {
      ctx.channel().config().setAutoRead(true);
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof ChannelInputShutdownEvent) {
      log.debug("{}: client finished sending; closing after the echo",
          Connections.name(ctx.channel()));
      ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    } else {
      ctx.fireUserEventTriggered(evt);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    log.debug("{}: closed", Connections.name(ctx.channel()));
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (cause instanceof IOException) {
      log.debug("{}: {}", Connections.name(ctx.channel()), cause.getMessage());
    } else {
      log.warn("{}: unexpected error; closing", Connections.name(ctx.channel()), cause);
    }
    ctx.close();
  }
}
