package dev.handoff.app;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.util.concurrent.atomic.LongAdder;

/** Counts the bytes read from clients (for the echo, the bytes echoed) and passes them on. */
@Sharable
final class ByteCounter extends ChannelInboundHandlerAdapter {
  private final LongAdder bytes;

  ByteCounter(LongAdder bytes) {
    this.bytes = bytes;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof ByteBuf buf) {
      bytes.add(buf.readableBytes());
    }
    ctx.fireChannelRead(msg);
  }
}
