package dev.handoff.proxy.upgrade;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.Descriptors;
import dev.handoff.common.internal.JdkNioInternals;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** The control link's messages, over a real unix socket. */
class ControlLinkTest {
  @TempDir Path dir;

  @Test
  void messagesAndTheListenerGoAcross() throws Exception {
    Path path = dir.resolve("ctl.sock");
    try (AFUNIXServerSocketChannel server = AFUNIXServerSocketChannel.open();
        ServerSocketChannel tcp = ServerSocketChannel.open()) {
      server.bind(AFUNIXSocketAddress.of(path));
      tcp.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      ControlLink client = ControlLink.connect(path);
      ControlLink old = ControlLink.accepted(server.accept(), "test");
      client.send(ControlLink.Type.HELLO, 42, null);
      ControlLink.Message hello = old.receive();
      assertEquals(ControlLink.Type.HELLO, hello.type());
      assertEquals(42, hello.value());
      assertNull(hello.fd());
      int port = ((InetSocketAddress) tcp.getLocalAddress()).getPort();
      old.send(ControlLink.Type.LISTENER, port, JdkNioInternals.descriptorOf(tcp));
      ControlLink.Message listener = client.receive();
      assertEquals(ControlLink.Type.LISTENER, listener.type());
      assertEquals(port, listener.value());
      assertNotNull(listener.fd());
      assertTrue(listener.fd().valid());
      assertTrue(Descriptors.number(listener.fd())
          != Descriptors.number(JdkNioInternals.descriptorOf(tcp)));
      client.close(); // the received descriptor is the caller's: it outlives the link
      assertTrue(listener.fd().valid());
      try (ServerSocketChannel wrapped = JdkNioInternals.serverSocketChannel(listener.fd(),
          java.net.StandardProtocolFamily.INET)) {
        assertEquals(port, ((InetSocketAddress) wrapped.getLocalAddress()).getPort());
      }
      assertNull(old.receive(), "the end of the link");
      old.close();
    }
  }

  @Test
  void bytesThatAreNotAControlMessageAreRefused() throws Exception {
    Path path = dir.resolve("ctl.sock");
    try (AFUNIXServerSocketChannel server = AFUNIXServerSocketChannel.open()) {
      server.bind(AFUNIXSocketAddress.of(path));
      try (ControlLink client = ControlLink.connect(path);
          ControlLink old = ControlLink.accepted(server.accept(), "test")) {
        old.channel().write(ByteBuffer.wrap("GET / HTTP/1.0\r\n\r\n".getBytes()));
        IOException e = assertThrows(IOException.class, client::receive);
        assertTrue(e.getMessage().contains("not a control message"), e.getMessage());
      }
    }
  }

  @Test
  void aListenerWithoutItsDescriptorIsRefused() throws Exception {
    Path path = dir.resolve("ctl.sock");
    try (AFUNIXServerSocketChannel server = AFUNIXServerSocketChannel.open()) {
      server.bind(AFUNIXSocketAddress.of(path));
      try (ControlLink client = ControlLink.connect(path);
          ControlLink old = ControlLink.accepted(server.accept(), "test")) {
        old.send(ControlLink.Type.LISTENER, 1, null);
        IOException e = assertThrows(IOException.class, client::receive);
        assertTrue(e.getMessage().contains("LISTENER came with 0 descriptors"), e.getMessage());
      }
    }
  }
}
