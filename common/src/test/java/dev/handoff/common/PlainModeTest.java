package dev.handoff.common;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.HandoffException.Reason;
import java.io.FileDescriptor;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;

/**
 * Plain mode (docs/PROTOCOL.md): a link whose first message is one descriptor with a small payload
 * and no magic, as Go's WriteMsgUnix (one zero byte), runc's SendFd (the file's name) or a C
 * sendmsg sends it. Real unix sockets and real TCP connections; descriptor counts prove that
 * every refused descriptor is closed.
 */
@Timeout(20)
class PlainModeTest {
  private AFUNIXSocketChannel rawSender;
  private HandoffChannel sender;
  private HandoffChannel receiver;
  private int baseline;

  @TempDir Path dir;

  @BeforeAll
  static void warmUp(@TempDir Path warmDir) throws IOException {
    PlainModeTest warm = new PlainModeTest();
    warm.dir = warmDir;
    warm.aGoSendersOneZeroByteIsOneConnection(); // links by itself
    warm.sender.close();
    warm.receiver.close();
  }

  private void link(boolean acceptPlain) throws IOException {
    baseline = OpenDescriptors.count();
    AFUNIXSocketAddress address = AFUNIXSocketAddress.of(dir.resolve("plain.sock"));
    try (AFUNIXServerSocketChannel listener = AFUNIXServerSocketChannel.open()) {
      listener.bind(address);
      rawSender = AFUNIXSocketChannel.open(address);
      receiver = HandoffChannel.accepted(listener.accept(), "receiver", acceptPlain);
    }
    sender = HandoffChannel.accepted(rawSender, "sender");
  }

  @AfterEach
  void unlink() throws IOException {
    if (sender != null) {
      sender.close();
      receiver.close();
      sender = null;
      assertEquals(baseline, OpenDescriptors.count(), "every descriptor the test opened is closed");
    }
  }

  /** One message as a plain sender writes it: the payload with descriptors on its first byte. */
  private void sendRaw(byte[] payload, FileDescriptor... fds) throws IOException {
    rawSender.setOutboundFileDescriptors(fds);
    ByteBuffer buf = ByteBuffer.wrap(payload);
    rawSender.write(buf);
    rawSender.setOutboundFileDescriptors();
    while (buf.hasRemaining()) {
      rawSender.write(buf);
    }
  }

  @Test
  void aGoSendersOneZeroByteIsOneConnection() throws IOException {
    link(true);
    try (TcpPair tcp = TcpPair.open()) {
      sendRaw(new byte[1], tcp.serverFd());
      tcp.server.close(); // a plain sender closes its copy at once
      try (ReceivedHandoff got = receiver.receive()) {
        assertTrue(receiver.plain(), "the first message made the link plain");
        assertEquals(1, got.header().connectionId(), "ids count from 1 on the link");
        assertEquals(tcp.client.getLocalAddress(), got.header().client(),
            "the client address is the socket's peer (getpeername)");
        assertEquals(((InetSocketAddress) tcp.client.getRemoteAddress()).getPort(),
            got.header().local().getPort(), "the local address is the socket's own (getsockname)");
        assertEquals("plain", tcp.roundTripThrough(got.descriptor(), "plain"));
      }
    }
  }

  @Test
  void nothingIsWrittenBackOnAPlainLink() throws IOException {
    link(true);
    try (TcpPair tcp = TcpPair.open()) {
      sendRaw(new byte[1], tcp.serverFd());
      receiver.receive().close();
      receiver.sendAck(new Acknowledgement(1, Acknowledgement.Status.ADOPTED));
      receiver.sendAck(new Acknowledgement(0, Acknowledgement.Status.CLOSING));
      receiver.close();
      assertEquals(-1, rawSender.read(ByteBuffer.allocate(64)), "no byte came back");
    }
  }

  @Test
  void messagesSentBackToBackStayOneConnectionEach() throws IOException {
    link(true);
    int n = 50;
    TcpPair[] pairs = new TcpPair[n];
    try {
      for (int i = 0; i < n; i++) {
        pairs[i] = TcpPair.open();
        // runc's SendFd sends the file's name; a C sender a byte or a string
        byte[] payload = i % 2 == 0 ? new byte[1]
            : ("/proc/self/fd/" + i).getBytes(StandardCharsets.US_ASCII);
        sendRaw(payload, pairs[i].serverFd());
      }
      for (int i = 0; i < n; i++) {
        try (ReceivedHandoff got = receiver.receive()) {
          assertEquals(i + 1, got.header().connectionId());
          assertEquals(pairs[i].client.getLocalAddress(), got.header().client(),
              "message " + i + " carries its own connection");
        }
      }
      rawSender.close();
      assertNull(receiver.receive(), "then the end of the link");
    } finally {
      for (TcpPair p : pairs) {
        if (p != null) {
          p.close();
        }
      }
    }
  }

  @Test
  void aPayloadOfExactlyTheBoundIsAccepted() throws IOException {
    link(true);
    try (TcpPair tcp = TcpPair.open()) {
      sendRaw(new byte[HandoffChannel.PLAIN_MAX_PAYLOAD], tcp.serverFd());
      try (ReceivedHandoff got = receiver.receive()) {
        assertNotNull(got);
        assertTrue(receiver.plain());
      }
    }
  }

  @Test
  void theProtocolStillWorksOnALinkThatMayBePlain() throws IOException {
    link(true);
    try (TcpPair a = TcpPair.open(); TcpPair b = TcpPair.open(); TcpPair c = TcpPair.open()) {
      sender.send(a.header(21), a.serverFd());
      sender.send(b.header(22), b.serverFd());
      sender.send(c.header(23), c.serverFd());
      for (TcpPair p : new TcpPair[] {a, b, c}) {
        try (ReceivedHandoff got = receiver.receive()) {
          assertEquals(p.header(got.header().connectionId()), got.header());
          assertEquals("hoff", p.roundTripThrough(got.descriptor(), "hoff"));
        }
      }
      assertFalse(receiver.plain(), "the first message made the link a handoff link");
    }
  }

  /**
   * A take-over request carries no descriptor, so the first read of the link is not bounded by
   * one: whatever follows it at once is kept for the next message, descriptor included.
   */
  @Test
  void aFirstMessageWithoutDescriptorDoesNotSwallowTheNext() throws IOException {
    link(true);
    try (TcpPair tcp = TcpPair.open()) {
      ByteBuffer takeOver = ByteBuffer.allocate(HeaderCodec.V1_LENGTH);
      HeaderCodec.encode(tcp.header(0), takeOver);
      takeOver.put(5, (byte) 1);
      rawSender.write(takeOver.flip());
      sender.send(tcp.header(31), tcp.serverFd());
      try (ReceivedHandoff first = receiver.receive()) {
        assertEquals(HandoffHeader.Kind.TAKEOVER, first.header().kind());
      }
      try (ReceivedHandoff second = receiver.receive()) {
        assertEquals(31, second.header().connectionId());
        assertEquals("next", tcp.roundTripThrough(second.descriptor(), "next"));
      }
    }
  }

  @Test
  void twoDescriptorsOnAPlainLinkAreRefusedBothClosedAndTheLinkGoesOn() throws IOException {
    link(true);
    try (TcpPair a = TcpPair.open(); TcpPair b = TcpPair.open(); TcpPair c = TcpPair.open()) {
      sendRaw(new byte[1], a.serverFd());
      receiver.receive().close();
      sendRaw(new byte[1], b.serverFd(), c.serverFd());
      int before = OpenDescriptors.count();
      HandoffException e = assertThrows(HandoffException.class, receiver::receive);
      assertEquals(Reason.EXTRA_DESCRIPTORS, e.reason());
      assertTrue(e.reason().resynchronisable());
      assertEquals(before, OpenDescriptors.count(), "both received descriptors were closed");
      sendRaw(new byte[] {'x'}, c.serverFd());
      try (ReceivedHandoff got = receiver.receive()) {
        assertEquals(3, got.header().connectionId(), "the link goes on with the next message");
      }
    }
  }

  @Test
  void anOversizedPlainMessageIsRefusedItsDescriptorClosedAndTheLinkEnds() throws IOException {
    link(true);
    try (TcpPair a = TcpPair.open(); TcpPair b = TcpPair.open()) {
      sendRaw(new byte[1], a.serverFd());
      receiver.receive().close();
      sendRaw(new byte[HandoffChannel.PLAIN_MAX_PAYLOAD + 1], b.serverFd());
      int before = OpenDescriptors.count();
      HandoffException e = assertThrows(HandoffException.class, receiver::receive);
      assertEquals(Reason.BAD_LENGTH, e.reason());
      assertFalse(e.reason().resynchronisable(), "the rest of the payload is unread");
      assertEquals(before, OpenDescriptors.count(), "its descriptor was closed");
    }
  }

  @Test
  void aFirstMessageWithTwoDescriptorsMakesNoPlainLink() throws IOException {
    link(true);
    try (TcpPair a = TcpPair.open(); TcpPair b = TcpPair.open()) {
      sendRaw(new byte[1], a.serverFd(), b.serverFd());
      int before = OpenDescriptors.count();
      HandoffException e = assertThrows(HandoffException.class, receiver::receive);
      assertEquals(Reason.BAD_MAGIC, e.reason());
      assertTrue(e.getMessage().contains("2 descriptors"), e.getMessage());
      assertEquals(before, OpenDescriptors.count(), "both received descriptors were closed");
      assertFalse(receiver.plain());
    }
  }

  @Test
  void anOversizedFirstMessageMakesNoPlainLink() throws IOException {
    link(true);
    try (TcpPair a = TcpPair.open()) {
      sendRaw(new byte[1000], a.serverFd());
      int before = OpenDescriptors.count();
      HandoffException e = assertThrows(HandoffException.class, receiver::receive);
      assertEquals(Reason.BAD_MAGIC, e.reason());
      assertTrue(e.getMessage().contains("more than 256 bytes"), e.getMessage());
      assertEquals(before, OpenDescriptors.count(), "its descriptor was closed");
    }
  }

  @Test
  void aFirstMessageWithoutDescriptorOrMagicIsBadMagic() throws IOException {
    link(true);
    sendRaw(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
    HandoffException e = assertThrows(HandoffException.class, receiver::receive);
    assertEquals(Reason.BAD_MAGIC, e.reason());
  }

  @Test
  void withPlainLinksOffAPlainSenderIsRefusedAtOnceAndSaysWhy() throws IOException {
    link(false);
    try (TcpPair a = TcpPair.open()) {
      sendRaw(new byte[1], a.serverFd());
      int before = OpenDescriptors.count();
      // Before plain mode the reader waited for 7 more bytes and reported a truncated message
      // when Go's proxy went away.
      HandoffException e = assertThrows(HandoffException.class, receiver::receive);
      assertEquals(Reason.BAD_MAGIC, e.reason());
      assertTrue(e.getMessage().contains("--no-plain"), e.getMessage());
      assertEquals(before, OpenDescriptors.count(), "its descriptor was closed");
    }
  }

  @Test
  void sendPlainIsWhatAPlainReceiverExpects() throws IOException {
    link(true);
    try (TcpPair tcp = TcpPair.open()) {
      // the sending side of the same link: one zero byte with the descriptor
      HandoffChannel plainSender = sender;
      plainSender.sendPlain(tcp.serverFd());
      try (ReceivedHandoff got = receiver.receive()) {
        assertTrue(receiver.plain());
        assertEquals("sent", tcp.roundTripThrough(got.descriptor(), "sent"));
      }
    }
  }
}
