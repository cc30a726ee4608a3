package dev.handoff.common;

import dev.handoff.common.internal.JdkNioInternals;
import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

/** A real loopback TCP connection: the client end and the accepted (server) end. */
final class TcpPair implements Closeable {
  final SocketChannel client;
  final SocketChannel server;

  private TcpPair(SocketChannel client, SocketChannel server) {
    this.client = client;
    this.server = server;
  }

  static TcpPair open() throws IOException {
    try (ServerSocketChannel listener = ServerSocketChannel.open()) {
      listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      SocketChannel client = SocketChannel.open(listener.getLocalAddress());
      return new TcpPair(client, listener.accept());
    }
  }

  HandoffHeader header(long id) throws IOException {
    return new HandoffHeader(id, 0, (InetSocketAddress) server.getRemoteAddress(),
        (InetSocketAddress) server.getLocalAddress());
  }

  FileDescriptor serverFd() {
    return JdkNioInternals.descriptorOf(server);
  }

  /** Writes through a bare descriptor of the server end and reads it at the client. */
  String roundTripThrough(FileDescriptor fd, String text) throws IOException {
    try (java.io.FileOutputStream out = new java.io.FileOutputStream(fd)) {
      out.write(text.getBytes(StandardCharsets.US_ASCII));
    }
    ByteBuffer buf = ByteBuffer.allocate(text.length());
    while (buf.hasRemaining()) {
      if (client.read(buf) < 0) {
        throw new IOException("client saw EOF after " + buf.position() + " bytes");
      }
    }
    return new String(buf.array(), StandardCharsets.US_ASCII);
  }

  @Override
  public void close() throws IOException {
    client.close();
    server.close();
  }
}
