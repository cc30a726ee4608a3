package dev.handoff.server;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.HandoffChannel;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

/**
 * Run by {@link WithoutMicrometerTest} in a JVM whose class path has no Micrometer: binds a
 * server, hands it a connection and echoes through it; prints OK.
 */
public final class WithoutMicrometerMain {
  private WithoutMicrometerMain() {}

  public static void main(String[] args) throws Exception {
    try {
      Class.forName("io.micrometer.core.instrument.MeterRegistry");
      throw new IllegalStateException("Micrometer is on the class path");
    } catch (ClassNotFoundException expected) {
      // as it should be
    }
    Path socket = Path.of(args[0]);
    try (HandoffServer server = new HandoffServerBootstrap().ioThreads(1)
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
              @Override
              public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ctx.writeAndFlush(msg);
              }
            });
          }
        }).bind(socket);
        HandoffChannel link = HandoffChannel.connect(socket);
        SocketChannel client = HandoffServerChannelTest.handOver(link, 1)) {
      Acknowledgement ack = link.receiveAck();
      if (ack.status() != Acknowledgement.Status.ADOPTED) {
        throw new IllegalStateException("answered " + ack);
      }
      String back = HandoffServerChannelTest.echo(client, "echo");
      System.out.println(back.equals("echo") ? "OK " + server.summary() : "echoed " + back);
    }
  }
}
