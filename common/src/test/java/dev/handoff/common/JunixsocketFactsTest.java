package dev.handoff.common;

import dev.handoff.common.internal.JunixsocketInternals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.IllegalSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * The junixsocket 2.11 behaviours this project's design works around. If one of these starts
 * failing after an upgrade, the workaround named in the test may no longer be needed.
 */
@Timeout(20)
class JunixsocketFactsTest {
  @TempDir Path dir;

  /** Why the echo engine is Netty's epoll transport and not a cast channel on a JDK selector. */
  @Test
  void castTcpChannelCannotJoinAJdkSelector() throws IOException {
    try (TcpPair tcp = TcpPair.open(); Selector selector = Selector.open()) {
      FileDescriptor dup = FileDescriptorCast.duplicating(tcp.serverFd()).getFileDescriptor();
      SocketChannel cast = FileDescriptorCast.using(dup).as(SocketChannel.class);
      try {
        cast.configureBlocking(false);
        assertThrows(IllegalSelectorException.class,
            () -> cast.register(selector, SelectionKey.OP_READ));
      } finally {
        cast.close();
        Descriptors.close(dup);
      }
    }
  }

  /** Why the app never closes a connection through a cast channel. */
  @Test
  void closingACastChannelShutsTheConnectionDownForEveryCopy() throws IOException {
    try (TcpPair tcp = TcpPair.open()) {
      FileDescriptor dup = FileDescriptorCast.duplicating(tcp.serverFd()).getFileDescriptor();
      SocketChannel cast = FileDescriptorCast.using(dup).as(SocketChannel.class);
      cast.close();
      assertEquals(-1, tcp.client.read(ByteBuffer.allocate(1)),
          "the client sees EOF although the proxy's copy (tcp.server) is still open");
      Descriptors.close(dup);
    }
  }

  /** Why HandoffChannel duplicates every received descriptor before the link can close. */
  @Test
  void closingTheLinkClosesReceivedDescriptors() throws IOException {
    AFUNIXSocketAddress address = AFUNIXSocketAddress.of(dir.resolve("l.sock"));
    try (AFUNIXServerSocketChannel listener = AFUNIXServerSocketChannel.open();
        TcpPair tcp = TcpPair.open()) {
      listener.bind(address);
      try (AFUNIXSocketChannel out = AFUNIXSocketChannel.open(address)) {
        AFUNIXSocketChannel in = listener.accept();
        in.setAncillaryReceiveBufferSize(256);
        out.setOutboundFileDescriptors(tcp.serverFd());
        out.write(ByteBuffer.wrap(new byte[] {1}));
        in.read(ByteBuffer.allocate(1));
        FileDescriptor received = in.getReceivedFileDescriptors()[0];
        assertTrue(received.valid());
        in.close();
        assertFalse(received.valid(), "junixsocket closed a descriptor it had handed to us");
      }
    }
  }

  @Test
  void ancillaryBufferIsRoundedAndReceivedDescriptorsAreNotCloseOnExec() throws IOException {
    AFUNIXSocketAddress address = AFUNIXSocketAddress.of(dir.resolve("c.sock"));
    try (AFUNIXServerSocketChannel listener = AFUNIXServerSocketChannel.open();
        TcpPair tcp = TcpPair.open()) {
      listener.bind(address);
      try (AFUNIXSocketChannel out = AFUNIXSocketChannel.open(address);
          AFUNIXSocketChannel in = listener.accept()) {
        in.setAncillaryReceiveBufferSize(1024);
        assertEquals(256, in.getAncillaryReceiveBufferSize());
        out.setOutboundFileDescriptors(tcp.serverFd());
        out.write(ByteBuffer.wrap(new byte[] {1}));
        in.read(ByteBuffer.allocate(1));
        FileDescriptor received = in.getReceivedFileDescriptors()[0];
        int fd = Descriptors.number(received);
        String flags = Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd)).stream()
            .filter(l -> l.startsWith("flags:")).findFirst().orElseThrow();
        long octal = Long.parseLong(flags.substring(6).trim(), 8);
        assertEquals(0, octal & 02000000, "O_CLOEXEC is not set on a received descriptor");
        Descriptors.close(received);
      }
    }
  }

  /** Why JunixsocketInternals sizes the control buffer for the kernel's maximum. */
  @Test
  void truncatedControlDataLeaksTheDescriptorsThatWereInstalled() throws IOException {
    AFUNIXSocketAddress address = AFUNIXSocketAddress.of(dir.resolve("t.sock"));
    try (AFUNIXServerSocketChannel listener = AFUNIXServerSocketChannel.open();
        TcpPair tcp = TcpPair.open()) {
      listener.bind(address);
      int before = OpenDescriptors.count();
      try (AFUNIXSocketChannel out = AFUNIXSocketChannel.open(address);
          AFUNIXSocketChannel in = listener.accept()) {
        in.setAncillaryReceiveBufferSize(1024);
        FileDescriptor[] seventy = new FileDescriptor[70];
        java.util.Arrays.fill(seventy, tcp.serverFd());
        out.setOutboundFileDescriptors(seventy);
        out.write(ByteBuffer.wrap(new byte[8]));
        assertThrows(java.net.SocketException.class, () -> in.read(ByteBuffer.allocate(8)),
            "MSG_CTRUNC surfaces as ENOBUFS");
        assertEquals(0, in.getReceivedFileDescriptors().length, "and nothing is reported");
      }
      int leaked = OpenDescriptors.count() - before;
      assertTrue(leaked > 50, "the installed descriptors stay open: " + leaked);
    }
  }

  /** Why UnixListener binds without address reuse after probing the path itself. */
  @Test
  void defaultBindMovesALiveSocketAside() throws IOException {
    AFUNIXSocketAddress address = AFUNIXSocketAddress.of(dir.resolve("r.sock"));
    try (AFUNIXServerSocketChannel first = AFUNIXServerSocketChannel.open();
        AFUNIXServerSocketChannel second = AFUNIXServerSocketChannel.open()) {
      first.bind(address);
      second.bind(address);
      try (AFUNIXSocketChannel client = AFUNIXSocketChannel.open(address)) {
        assertThrows(IOException.class, first::accept,
            "the first server was shut out: its path now belongs to the second");
        try (AFUNIXSocketChannel accepted = second.accept()) {
          assertTrue(accepted.isConnected());
        }
      }
    }
  }
}
