package dev.handoff.common;

import dev.handoff.common.internal.JdkNioInternals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link JdkNioInternals#setTcpDeferAccept}, as the kernel behaves with it: a connection whose
 * bytes arrive is accepted when they do, one that sends nothing only after the deferral, and 0
 * turns it off again (what a proxy taking over a socket that its predecessor deferred does).
 */
@Timeout(30)
class TcpDeferAcceptTest {
  private static long acceptMillis(ServerSocketChannel server, long sendAfterMillis)
      throws Exception {
    long start = System.nanoTime();
    try (SocketChannel client = SocketChannel.open(server.getLocalAddress())) {
      Thread sender = null;
      if (sendAfterMillis >= 0) {
        sender = new Thread(() -> {
          try {
            Thread.sleep(sendAfterMillis);
            client.write(ByteBuffer.wrap(new byte[] {22, 3, 1}));
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        });
        sender.start();
      }
      try (SocketChannel accepted = server.accept()) {
        long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        if (sendAfterMillis >= 0) {
          sender.join();
          assertEquals(3, accepted.read(ByteBuffer.allocate(16)), "the bytes are there");
        }
        return took;
      }
    }
  }

  @Test
  void theKernelHoldsAConnectionUntilItsFirstBytesOrTheDeferral() throws Exception {
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.INET)) {
      server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
      JdkNioInternals.setTcpDeferAccept(server, 1);
      long withBytes = acceptMillis(server, 300);
      assertTrue(withBytes >= 290 && withBytes < 900, "accepted when its bytes came: " + withBytes);
      long silent = acceptMillis(server, -1);
      assertTrue(silent >= 900, "a silent client only after the deferral: " + silent);

      JdkNioInternals.setTcpDeferAccept(server, 0);
      long off = acceptMillis(server, -1);
      assertTrue(off < 500, "off again: accepted at once: " + off);
    }
  }
}
