package dev.handoff.app;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;

/**
 * Stops reading from a client while it is not taking what is written to it (the outbound buffer
 * is above its high-water mark), and reads again once it has caught up: a slow reader costs at
 * most that much memory. Place it before the handlers that write.
 */
@Sharable
final class ReadPausing extends ChannelDuplexHandler {
  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    ctx.write(msg, promise);
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
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (ctx.channel().isWritable()) {
      ctx.channel().config().setAutoRead(true);
    }
    ctx.fireChannelWritabilityChanged();
  }
}
