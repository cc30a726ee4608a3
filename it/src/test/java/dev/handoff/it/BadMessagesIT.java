package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.HandoffHeader;
import dev.handoff.common.HeaderCodec;
import dev.handoff.common.internal.JdkNioInternals;
import java.io.FileDescriptor;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;

/**
 * Hostile or broken messages written straight to a running app's socket: each is refused with its
 * reason in the log, every descriptor in it is closed, and the app goes on serving.
 */
@Timeout(120)
class BadMessagesIT extends DaemonTest {
  private Daemon app;
  private ServerSocketChannel tcpListener;

  @BeforeEach
  void setUp() throws Exception {
    app = daemons.app(socket);
    daemons.proxy(port, socket);
    tcpListener = ServerSocketChannel.open()
        .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
  }

  @AfterEach
  void tearDown() throws Exception {
    tcpListener.close();
  }

  /** A loopback TCP connection made by the test: the client end, and the end to hand over. */
  private final class Tcp implements AutoCloseable {
    final SocketChannel client;
    final SocketChannel accepted;

    Tcp() throws IOException {
      client = SocketChannel.open(tcpListener.getLocalAddress());
      client.socket().setSoTimeout(10_000);
      accepted = tcpListener.accept();
    }

    HandoffHeader header(long id) throws IOException {
      return new HandoffHeader(id, 0, (InetSocketAddress) accepted.getRemoteAddress(),
          (InetSocketAddress) accepted.getLocalAddress());
    }

    FileDescriptor fd() {
      return JdkNioInternals.descriptorOf(accepted);
    }

    /** Requires EOF at the client once the test closed its copy: the app closed its copy too. */
    void assertClosedByApp() throws IOException {
      accepted.close();
      int r = client.socket().getInputStream().read();
      assertEquals(-1, r, "the app closed the descriptor it refused");
    }

    @Override
    public void close() throws IOException {
      client.close();
      accepted.close();
    }
  }

  private AFUNIXSocketChannel link() throws IOException {
    return AFUNIXSocketChannel.open(AFUNIXSocketAddress.of(socket));
  }

  private static ByteBuffer encoded(HandoffHeader header) {
    ByteBuffer buf = ByteBuffer.allocate(HeaderCodec.V1_LENGTH);
    HeaderCodec.encode(header, buf);
    return buf.flip();
  }

  private static void send(AFUNIXSocketChannel link, ByteBuffer bytes, FileDescriptor... fds)
      throws IOException {
    link.setOutboundFileDescriptors(fds);
    while (bytes.hasRemaining()) {
      link.write(bytes);
    }
  }

  /** Hands a fresh real connection over this link and requires the app to echo on it. */
  private void assertLinkStillServes(AFUNIXSocketChannel link, long id) throws IOException {
    try (Tcp tcp = new Tcp()) {
      send(link, encoded(tcp.header(id)), tcp.fd());
      tcp.accepted.close();
      assertEchoes(tcp.client, "after a refused message the same link still works");
    }
  }

  private static void assertEchoes(SocketChannel client, String text) throws IOException {
    client.socket().getOutputStream().write(text.getBytes());
    assertArrayEquals(text.getBytes(),
        EchoClient.readExactly(client.socket().getInputStream(), text.length()));
  }

  /** EOF, or a reset because the app closed with our unread bytes in its buffer. */
  private static boolean isClosedByPeer(AFUNIXSocketChannel link) {
    try {
      return link.read(ByteBuffer.allocate(1)) == -1;
    } catch (IOException e) {
      return e.getMessage().contains("reset");
    }
  }

  private void assertRefused(String reason) {
    app.awaitLog("(" + reason + ")", Duration.ofSeconds(10));
  }

  @Test
  void garbageWithADescriptorClosesTheLinkAndTheDescriptor() throws Exception {
    try (AFUNIXSocketChannel link = link(); Tcp tcp = new Tcp()) {
      // Longer than a plain handoff's payload may be (docs/PROTOCOL.md, "Plain mode"): a short
      // message with one descriptor and no magic would be served as a plain handoff.
      String garbage = "GET / HTTP/1.1\r\nHost: x\r\nX-Padding: " + "x".repeat(300) + "\r\n\r\n";
      send(link, ByteBuffer.wrap(garbage.getBytes()), tcp.fd());
      assertRefused("BAD_MAGIC");
      tcp.assertClosedByApp();
      assertTrue(isClosedByPeer(link), "a link that lost framing is closed");
    }
    EchoClient.echoOnce(port, "real clients are still served".getBytes());
  }

  @Test
  void wrongVersionClosesTheLink() throws Exception {
    try (AFUNIXSocketChannel link = link(); Tcp tcp = new Tcp()) {
      ByteBuffer msg = encoded(tcp.header(1));
      msg.put(4, (byte) 9);
      send(link, msg, tcp.fd());
      assertRefused("BAD_VERSION");
      tcp.assertClosedByApp();
    }
  }

  @Test
  void truncatedHeaderIsRefused() throws Exception {
    try (Tcp tcp = new Tcp()) {
      try (AFUNIXSocketChannel link = link()) {
        send(link, encoded(tcp.header(1)).limit(20), tcp.fd());
      }
      assertRefused("TRUNCATED");
      tcp.assertClosedByApp();
    }
  }

  @Test
  void headerWithoutDescriptorIsRefusedAndTheLinkGoesOn() throws Exception {
    try (AFUNIXSocketChannel link = link(); Tcp tcp = new Tcp()) {
      send(link, encoded(tcp.header(1)));
      assertRefused("NO_DESCRIPTOR");
      assertLinkStillServes(link, 2);
    }
  }

  @Test
  void twoDescriptorsAreRefusedAndBothClosed() throws Exception {
    try (AFUNIXSocketChannel link = link(); Tcp a = new Tcp(); Tcp b = new Tcp()) {
      send(link, encoded(a.header(1)), a.fd(), b.fd());
      assertRefused("EXTRA_DESCRIPTORS");
      a.assertClosedByApp();
      b.assertClosedByApp();
      assertLinkStillServes(link, 2);
    }
  }

  @Test
  void aPipeInsteadOfASocketIsRefused() throws Exception {
    Pipe pipe = Pipe.open();
    try (AFUNIXSocketChannel link = link(); Tcp tcp = new Tcp()) {
      send(link, encoded(tcp.header(1)), JdkNioInternals.descriptorOf(pipe.sink()));
      assertRefused("NOT_A_CONNECTED_STREAM_SOCKET");
      pipe.sink().close();
      pipe.source().configureBlocking(true);
      assertEquals(-1, pipe.source().read(ByteBuffer.allocate(1)),
          "the app closed its copy of the pipe: the reader sees EOF");
      assertLinkStillServes(link, 2);
    } finally {
      pipe.source().close();
      pipe.sink().close();
    }
  }

  @Test
  void aListeningSocketIsRefused() throws Exception {
    try (AFUNIXSocketChannel link = link(); Tcp tcp = new Tcp();
        ServerSocketChannel listening = ServerSocketChannel.open()) {
      listening.setOption(StandardSocketOptions.SO_REUSEADDR, true);
      listening.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      send(link, encoded(tcp.header(1)), JdkNioInternals.descriptorOf(listening));
      assertRefused("NOT_A_CONNECTED_STREAM_SOCKET");
      assertTrue(app.log().contains("not connected"), app.log());
      assertLinkStillServes(link, 2);
    }
  }

  @Test
  void aUnixSocketIsRefused() throws Exception {
    try (AFUNIXSocketChannel link = link(); AFUNIXSocketChannel other = link();
        Tcp tcp = new Tcp()) {
      send(link, encoded(tcp.header(1)), other.getFileDescriptor());
      assertRefused("NOT_A_CONNECTED_STREAM_SOCKET");
      assertLinkStillServes(link, 2);
    }
  }

  /** One plain handoff (a zero byte and the descriptor, as Go's WriteMsgUnix sends), served. */
  private void assertPlainLinkServes(AFUNIXSocketChannel link, String text) throws IOException {
    try (Tcp tcp = new Tcp()) {
      send(link, ByteBuffer.wrap(new byte[] {0}), tcp.fd());
      tcp.accepted.close();
      assertEchoes(tcp.client, text);
    }
  }

  /**
   * Hostile input from a plain sender, against the running app. On a plain link two
   * descriptors, a pipe and a message without a descriptor are each refused with their reason,
   * every descriptor closed, and the link goes on; a 64 KiB payload ends the link (its framing is
   * lost) and closes its descriptor, and as a link's first message it makes no plain link. The
   * app keeps serving, and holds no descriptor more than before.
   */
  @Test
  void hostilePlainInputIsRefusedWithItsReasonAndTheAppKeepsServing() throws Exception {
    EchoClient.echoOnce(port, "warm up".getBytes());
    int baseline = app.settledFds();
    try (AFUNIXSocketChannel link = link()) {
      assertPlainLinkServes(link, "a plain handoff");
      app.awaitLog("is a plain link", Duration.ofSeconds(10));
      try (Tcp a = new Tcp(); Tcp b = new Tcp()) {
        send(link, ByteBuffer.wrap(new byte[] {0}), a.fd(), b.fd());
        assertRefused("EXTRA_DESCRIPTORS");
        a.assertClosedByApp();
        b.assertClosedByApp();
      }
      Pipe pipe = Pipe.open();
      try {
        send(link, ByteBuffer.wrap(new byte[] {0}), JdkNioInternals.descriptorOf(pipe.sink()));
        assertRefused("NOT_A_CONNECTED_STREAM_SOCKET");
        pipe.sink().close();
        assertEquals(-1, pipe.source().read(ByteBuffer.allocate(1)),
            "the app closed its copy of the pipe: the reader sees EOF");
      } finally {
        pipe.source().close();
        pipe.sink().close();
      }
      send(link, ByteBuffer.wrap("no descriptor".getBytes()));
      assertRefused("NO_DESCRIPTOR");
      assertPlainLinkServes(link, "the plain link goes on");
      try (Tcp tcp = new Tcp()) {
        sendLarge(link, tcp.fd());
        assertRefused("BAD_LENGTH");
        tcp.assertClosedByApp();
        assertTrue(isClosedByPeer(link), "a link that lost framing is closed");
      }
    }
    try (AFUNIXSocketChannel first = link(); Tcp tcp = new Tcp()) {
      sendLarge(first, tcp.fd());
      assertRefused("BAD_MAGIC");
      tcp.assertClosedByApp();
      assertTrue(isClosedByPeer(first), "no plain link is made of it");
    }
    assertEquals(1, count(app.log(), "is a plain link"), "the mode is logged once per link");
    EchoClient.echoOnce(port, "real clients are still served".getBytes());
    assertEquals(baseline, app.awaitFds(baseline, Duration.ofSeconds(10)),
        "open descriptors of the app are back to where they were");
  }

  /** 64 KiB of payload with one descriptor on its first byte, as far as the app reads it. */
  private static void sendLarge(AFUNIXSocketChannel link, FileDescriptor fd) throws IOException {
    ByteBuffer payload = ByteBuffer.wrap(EchoClient.randomBytes(new java.util.Random(12), 64 << 10));
    payload.put(0, (byte) 0); // not the magic
    link.setOutboundFileDescriptors(fd);
    link.write(payload);
    link.setOutboundFileDescriptors();
    try {
      while (payload.hasRemaining()) {
        link.write(payload);
      }
    } catch (IOException e) {
      // the app refused the message and closed the link before reading the rest
    }
  }

  private static int count(String text, String part) {
    int n = 0;
    for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + 1)) {
      n++;
    }
    return n;
  }

  @Test
  void afterEveryKindOfBadMessageTheAppHoldsNoExtraDescriptor() throws Exception {
    EchoClient.echoOnce(port, "warm up".getBytes());
    int baseline = app.settledFds();
    garbageWithADescriptorClosesTheLinkAndTheDescriptor();
    truncatedHeaderIsRefused();
    twoDescriptorsAreRefusedAndBothClosed();
    aPipeInsteadOfASocketIsRefused();
    aUnixSocketIsRefused();
    assertEquals(baseline, app.awaitFds(baseline, Duration.ofSeconds(10)),
        "open descriptors of the app are back to where they were");
    assertTrue(app.isAlive());
  }
}
