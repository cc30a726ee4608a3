package dev.handoff.proxy.accept;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.handoff.common.internal.JdkNioInternals;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** {@link MsgPeek} on real TCP sockets over 127.0.0.1. */
class MsgPeekTest {

  private static ServerSocketChannel listen() throws IOException {
    return ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(),
        0));
  }

  @Test
  void peekedBytesAreStillThereForALaterRead() throws Exception {
    try (ServerSocketChannel server = listen();
        SocketChannel client = SocketChannel.open(server.getLocalAddress());
        SocketChannel accepted = server.accept()) {
      accepted.configureBlocking(false);
      ByteBuffer direct = ByteBuffer.allocateDirect(64);
      assertEquals(0, MsgPeek.peek(JdkNioInternals.descriptorOf(accepted), direct, 64),
          "nothing sent yet");
      client.write(ByteBuffer.wrap("hello world".getBytes(StandardCharsets.US_ASCII)));
      int n = waitFor(accepted, direct, 64, 11);
      assertEquals(11, n);
      assertEquals(11, MsgPeek.available(JdkNioInternals.descriptorOf(accepted), direct),
          "FIONREAD counts them, without taking them");
      // Peeking again gives the same bytes from the start: nothing was consumed.
      assertEquals(11, MsgPeek.peek(JdkNioInternals.descriptorOf(accepted), direct, 64));
      assertEquals(5, MsgPeek.peek(JdkNioInternals.descriptorOf(accepted), direct, 5),
          "bounded by max");
      byte[] peeked = new byte[11];
      direct.get(0, peeked);
      assertEquals("hello world", new String(peeked, StandardCharsets.US_ASCII));
      accepted.configureBlocking(true);
      ByteBuffer read = ByteBuffer.allocate(64);
      while (read.position() < 11) {
        accepted.read(read);
      }
      assertEquals("hello world", new String(read.array(), 0, read.position(),
          StandardCharsets.US_ASCII));
    }
  }

  @Test
  void endOfStreamIsMinusOneAndResetThrows() throws Exception {
    try (ServerSocketChannel server = listen()) {
      try (SocketChannel client = SocketChannel.open(server.getLocalAddress());
          SocketChannel accepted = server.accept()) {
        accepted.configureBlocking(false);
        client.close();
        assertEquals(-1, waitFor(accepted, ByteBuffer.allocateDirect(16), 16, -1));
      }
      try (SocketChannel client = SocketChannel.open(server.getLocalAddress());
          SocketChannel accepted = server.accept()) {
        accepted.configureBlocking(false);
        client.setOption(StandardSocketOptions.SO_LINGER, 0);
        client.close(); // RST
        ByteBuffer direct = ByteBuffer.allocateDirect(16);
        assertThrows(IOException.class, () -> {
          try (Selector selector = Selector.open()) {
            accepted.register(selector, SelectionKey.OP_READ);
            long deadline = System.nanoTime() + 2_000_000_000L;
            while (System.nanoTime() - deadline < 0) {
              selector.select(100); // the reset makes it readable
              selector.selectedKeys().clear();
              MsgPeek.peek(JdkNioInternals.descriptorOf(accepted), direct, 16);
            }
          }
        });
      }
    }
  }

  /** Peeks until it returns {@code expected}, for at most 2 s; returns the last result. */
  private static int waitFor(SocketChannel ch, ByteBuffer direct, int max, int expected)
      throws Exception {
    int n = 0;
    long deadline = System.nanoTime() + 2_000_000_000L;
    try (Selector selector = Selector.open()) {
      ch.register(selector, SelectionKey.OP_READ);
      while (System.nanoTime() - deadline < 0) {
        n = MsgPeek.peek(JdkNioInternals.descriptorOf(ch), direct, max);
        if (n == expected) {
          return n;
        }
        // Readable again once more bytes (or the end) arrive: a peek leaves them there, so
        // wait at most a little, then look again.
        selector.select(10);
        selector.selectedKeys().clear();
      }
    }
    return n;
  }
}
