package dev.handoff.app;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import java.io.IOException;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Echoes every byte back. Reading pauses while the client is not taking the echo (the outbound
 * buffer is above its high-water mark), so a slow reader costs at most that much memory.
 */
final class EchoHandler extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(EchoHandler.class);
  private final long connectionId;
  private final LongAdder bytesEchoed;

  EchoHandler(long connectionId, LongAdder bytesEchoed) {
    this.connectionId = connectionId;
    this.bytesEchoed = bytesEchoed;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    bytesEchoed.add(((ByteBuf) msg).readableBytes());
    ctx.write(msg, ctx.voidPromise());
    if (!ctx.channel().isWritable()) {
      // Pause before flushing: the flush may drain everything and report writability right away,
      // and pausing after that would never be undone.
      ctx.channel().config().setAutoRead(false);
      ctx.flush();
      if (ctx.channel().isWritable()) {
        ctx.channel().config().setAutoRead(true);
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
  }

  /** The client half-closed: send back what is pending, then close. */
  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof ChannelInputShutdownEvent) {
      log.debug("c{}: client finished sending; closing after the echo", connectionId);
      ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    log.debug("c{}: closed", connectionId);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (cause instanceof IOException) {
      log.debug("c{}: {}", connectionId, cause.getMessage());
    } else {
      log.warn("c{}: unexpected error; closing", connectionId, cause);
    }
    ctx.close();
  }
}
