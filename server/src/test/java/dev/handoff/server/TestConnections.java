package dev.handoff.server;

import dev.handoff.common.HandoffChannel;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.internal.JdkNioInternals;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * What the server tests do as the proxy and as the client: hand a connected TCP socket over a link,
 * and talk through it. Also used by {@link WithoutMicrometerMain}, in a JVM without Micrometer.
 */
final class TestConnections {
  private TestConnections() {}

  /** A server bootstrap with {@code ioThreads} whose connections echo what they read. */
  static HandoffServerBootstrap echoingServer(int ioThreads) {
    return new HandoffServerBootstrap().ioThreads(ioThreads).childHandler(echoing());
  }

  /** Children that echo what they read. */
  static ChannelInitializer<Channel> echoing() {
    return new ChannelInitializer<Channel>() {
      @Override
      protected void initChannel(Channel ch) {
        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
          @Override
          public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.writeAndFlush(msg);
          }
        });
      }
    };
  }

  /** A connected client, and the proxy's copy of the accepted socket sent on {@code link}. */
  static SocketChannel handOver(HandoffChannel link, long id) throws IOException {
    return handOver(link, 1, id).get(0);
  }

  /** Hands over {@code n} fresh connections on {@code link}, ids from {@code firstId}. */
  static List<SocketChannel> handOver(HandoffChannel link, int n, long firstId)
      throws IOException {
    List<SocketChannel> clients = new ArrayList<>();
    try (ServerSocketChannel listener = ServerSocketChannel.open()) {
      listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      for (int i = 0; i < n; i++) {
        SocketChannel client = SocketChannel.open(listener.getLocalAddress());
        clients.add(client);
        try (SocketChannel served = listener.accept()) {
          send(link, firstId + i, served);
        } // the proxy's copy closes as soon as it is sent; the app's stays
      }
    }
    return clients;
  }

  /** Sends {@code served} on {@code link} as connection {@code id}; the caller still closes it. */
  static void send(HandoffChannel link, long id, SocketChannel served) throws IOException {
    link.send(new HandoffHeader(id, 0, (InetSocketAddress) served.getRemoteAddress(),
        (InetSocketAddress) served.getLocalAddress()), JdkNioInternals.descriptorOf(served));
  }

  /** Writes {@code text} and reads as many bytes back. */
  static String echo(SocketChannel client, String text) throws IOException {
    client.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII)));
    return read(client, text.length());
  }

  /** Reads exactly {@code length} bytes, as ASCII. */
  static String read(SocketChannel channel, int length) throws IOException {
    ByteBuffer bytes = ByteBuffer.allocate(length);
    while (bytes.hasRemaining()) {
      if (channel.read(bytes) < 0) {
        throw new IOException("closed after " + bytes.position() + " bytes");
      }
    }
    return new String(bytes.array(), StandardCharsets.US_ASCII);
  }
}
