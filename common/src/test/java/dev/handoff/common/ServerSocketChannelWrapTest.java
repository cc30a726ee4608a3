package dev.handoff.common;

import dev.handoff.common.internal.JdkNioInternals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.FileDescriptor;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import org.junit.jupiter.api.Test;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * {@link JdkNioInternals#serverSocketChannel}: what a proxy taking over does with the listening
 * socket it is passed, and why the old proxy's close does not stop the socket listening.
 */
class ServerSocketChannelWrapTest {
  @Test
  void aDuplicateKeepsListeningAfterTheOriginalIsClosed() throws Exception {
    ServerSocketChannel original = ServerSocketChannel.open(StandardProtocolFamily.INET);
    original.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
    int port = ((InetSocketAddress) original.getLocalAddress()).getPort();
    FileDescriptor dup = FileDescriptorCast.duplicating(JdkNioInternals.descriptorOf(original))
        .getFileDescriptor();
    try (ServerSocketChannel wrapped = JdkNioInternals.serverSocketChannel(dup,
        StandardProtocolFamily.INET)) {
      assertEquals(port, ((InetSocketAddress) wrapped.getLocalAddress()).getPort());
      assertEquals(true, wrapped.isBlocking());
      try (Socket client = new Socket(InetAddress.getLoopbackAddress(), port);
          SocketChannel accepted = wrapped.accept()) {
        assertNotNull(accepted);
      }
      original.close(); // close(2) of one copy: the socket still listens for the other
      try (Socket client = new Socket(InetAddress.getLoopbackAddress(), port);
          SocketChannel accepted = wrapped.accept()) {
        assertEquals(client.getLocalPort(),
            ((InetSocketAddress) accepted.getRemoteAddress()).getPort());
      }
    }
    assertThrows(ConnectException.class,
        () -> new Socket(InetAddress.getLoopbackAddress(), port).close());
  }
}
