package dev.handoff.bench;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Iterator;

/**
 * The floor a Java user compares a server with: a plain JDK NIO echo server, one selector on one
 * thread, no framework. Each connection reads into its own 16 KiB heap buffer and writes back what
 * it read; while a write is incomplete it stops reading (OP_WRITE instead of OP_READ), so a client
 * that does not read cannot make it buffer without bound. Runs until killed (SIGTERM).
 *
 * <pre>
 * java -cp handoff-bench.jar dev.handoff.bench.NioEcho --port PORT [--host 127.0.0.1]
 * </pre>
 *
 * Prints {@code listening on HOST:PORT} once it accepts. Loopback addresses only.
 */
public final class NioEcho {
  private static final int BUFFER = 16 * 1024;

  private NioEcho() {}

  public static void main(String[] args) throws IOException {
    String host = "127.0.0.1";
    int port = -1;
    for (int i = 0; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--host" -> host = args[i + 1];
        case "--port" -> port = Integer.parseInt(args[i + 1]);
        default -> usage("unknown option " + args[i]);
      }
    }
    if (args.length % 2 != 0 || port < 1 || port > 65535) {
      usage("--port PORT is required");
    }
    InetAddress address = InetAddress.getByName(host);
    if (!address.isLoopbackAddress()) {
      usage("refusing " + address + ": the echo binds loopback addresses only");
    }
    try (Selector selector = Selector.open();
        ServerSocketChannel server = ServerSocketChannel.open()) {
      server.bind(new InetSocketAddress(address, port), 1024);
      server.configureBlocking(false);
      server.register(selector, SelectionKey.OP_ACCEPT);
      System.out.println("listening on " + address.getHostAddress() + ":" + port);
      System.out.flush();
      while (true) {
        selector.select();
        Iterator<SelectionKey> keys = selector.selectedKeys().iterator();
        while (keys.hasNext()) {
          SelectionKey key = keys.next();
          keys.remove();
          if (!key.isValid()) {
            continue;
          }
          if (key.isAcceptable()) {
            accept(server, selector);
          } else {
            serve(key);
          }
        }
      }
    }
  }

  private static void accept(ServerSocketChannel server, Selector selector) throws IOException {
    SocketChannel client;
    while ((client = server.accept()) != null) {
      client.configureBlocking(false);
      client.setOption(StandardSocketOptions.TCP_NODELAY, true);
      client.register(selector, SelectionKey.OP_READ, ByteBuffer.allocate(BUFFER));
    }
  }

  /** Reads what came and echoes it; the buffer holds what is still to be written. */
  private static void serve(SelectionKey key) {
    SocketChannel channel = (SocketChannel) key.channel();
    ByteBuffer buffer = (ByteBuffer) key.attachment();
    try {
      if (key.isWritable()) {
        channel.write(buffer);
      } else {
        if (channel.read(buffer) < 0) {
          channel.close();
          return;
        }
        buffer.flip();
        channel.write(buffer);
      }
      if (buffer.hasRemaining()) {
        key.interestOps(SelectionKey.OP_WRITE);
      } else {
        buffer.clear();
        key.interestOps(SelectionKey.OP_READ);
      }
    } catch (IOException e) {
      try {
        channel.close(); // the client reset or went away: nothing to tell it
      } catch (IOException ignored) {
        // closed either way
      }
    }
  }

  private static void usage(String message) {
    System.err.println("NioEcho: " + message
        + "\nusage: java -cp handoff-bench.jar dev.handoff.bench.NioEcho --port PORT"
        + " [--host 127.0.0.1]");
    System.exit(2);
  }
}
