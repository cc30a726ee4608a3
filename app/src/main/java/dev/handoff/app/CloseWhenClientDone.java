package dev.handoff.app;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A client that half-closed (sent FIN, still reading) gets everything still to be written, then
 * the connection is closed. Needs {@code ALLOW_HALF_CLOSURE}.
 */
@Sharable
final class CloseWhenClientDone extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(CloseWhenClientDone.class);

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
}
