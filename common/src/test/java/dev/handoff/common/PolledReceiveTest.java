package dev.handoff.common;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.handoff.common.HandoffException.Reason;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;

/**
 * Polled receiving (what an event loop does with a link) and acknowledgements read in batches,
 * over a real unix socket pair with real TCP sockets as payload: a poll never waits, a message
 * that arrives in pieces is kept until it is whole, and no descriptor leaks on any path. A call
 * that waited would hang the test, which the timeout ends.
 */
@Timeout(20)
class PolledReceiveTest {
  private AFUNIXSocketChannel rawSender;
  private HandoffChannel receiver;
  private int baseline;

  @TempDir Path dir;

  @BeforeEach
  void link() throws IOException {
    warmUp();
    baseline = OpenDescriptors.count();
    AFUNIXSocketAddress address = AFUNIXSocketAddress.of(dir.resolve("link.sock"));
    try (AFUNIXServerSocketChannel listener = AFUNIXServerSocketChannel.open()) {
      listener.bind(address);
      rawSender = AFUNIXSocketChannel.open(address);
      receiver = HandoffChannel.accepted(listener.accept(), "receiver");
    }
  }

  /** Loads what the first link and TCP pair load once, so that it does not count as a leak. */
  private void warmUp() throws IOException {
    try (TcpPair tcp = TcpPair.open()) {
      tcp.header(1);
    }
  }

  @AfterEach
  void unlink() throws IOException {
    rawSender.close();
    receiver.close();
    assertEquals(baseline, OpenDescriptors.count(), "every descriptor the test opened is closed");
  }

  private static ByteBuffer encoded(HandoffHeader header) throws HandoffException {
    ByteBuffer bytes = ByteBuffer.allocate(HeaderCodec.MAX_LENGTH);
    HeaderCodec.encode(header, bytes);
    return bytes.flip();
  }

  /** Writes the next {@code n} bytes of {@code message}, with {@code fds} attached. */
  private void writePiece(ByteBuffer message, int n, java.io.FileDescriptor... fds)
      throws IOException {
    ByteBuffer piece = message.slice().limit(n);
    rawSender.setOutboundFileDescriptors(fds);
    try {
      while (piece.hasRemaining()) {
        rawSender.write(piece);
      }
    } finally {
      rawSender.setOutboundFileDescriptors();
    }
    message.position(message.position() + n);
  }

  /**
   * A COPIES message read in one readiness comes out one copy a call, each call returning the
   * next copy already read without a readiness of its own: the link is not readable for them.
   */
  @Test
  void theCopiesOfOneMessageComeOutOneACallWithoutANewReadiness() throws IOException {
    try (TcpPair one = TcpPair.open(); TcpPair two = TcpPair.open();
        TcpPair three = TcpPair.open();
        HandoffChannel sender = HandoffChannel.accepted(rawSender, "sender")) {
      sender.sendCopies(List.of(one.header(1).as(HandoffHeader.Kind.PREPARED, 0, 0),
          two.header(2).as(HandoffHeader.Kind.PREPARED, 0, 0),
          three.header(3).as(HandoffHeader.Kind.PREPARED, 0, 0)),
          List.of(one.serverFd(), two.serverFd(), three.serverFd()));
      for (long id = 1; id <= 3; id++) {
        try (ReceivedHandoff got = receiver.receiveAvailable(false)) {
          assertEquals(id, got.header().connectionId(), "copy " + id + " of the message");
        }
      }
      assertSame(HandoffChannel.INCOMPLETE, receiver.receiveAvailable(false));
    }
  }

  @Test
  void nothingQueuedIsIncompleteAtOnce() throws IOException {
    assertSame(HandoffChannel.INCOMPLETE, receiver.receiveAvailable(false));
    assertSame(HandoffChannel.INCOMPLETE, receiver.receiveAvailable(false));
  }

  @Test
  void aMessageInPiecesIsKeptUntilWholeThenWorks() throws IOException {
    try (TcpPair first = TcpPair.open(); TcpPair tcp = TcpPair.open()) {
      writePiece(encoded(first.header(1)), encoded(first.header(1)).remaining(), first.serverFd());
      try (ReceivedHandoff got = receiver.receiveAvailable(false)) {
        assertEquals(1, got.header().connectionId());
      }
      ByteBuffer message = encoded(tcp.header(2));
      writePiece(message, 5, tcp.serverFd()); // part of the prefix, with the descriptor
      assertSame(HandoffChannel.INCOMPLETE, receiver.receiveAvailable(false));
      writePiece(message, 10); // the rest of the prefix and part of the body
      assertSame(HandoffChannel.INCOMPLETE, receiver.receiveAvailable(false));
      writePiece(message, message.remaining());
      try (ReceivedHandoff got = receiver.receiveAvailable(false)) {
        assertEquals(tcp.header(2), got.header());
        assertEquals("piecewise", tcp.roundTripThrough(got.descriptor(), "piecewise"),
            "the descriptor that came with the first piece is the connection");
      }
      assertSame(HandoffChannel.INCOMPLETE, receiver.receiveAvailable(false));
    }
  }

  @Test
  void aFirstMessageThatTricklesInIsStillAHandoff() throws IOException {
    try (TcpPair tcp = TcpPair.open()) {
      ByteBuffer message = encoded(tcp.header(3));
      writePiece(message, 2); // half the magic, no descriptor yet: the mode is still open
      assertSame(HandoffChannel.INCOMPLETE, receiver.receiveAvailable(false));
      writePiece(message, message.remaining(), tcp.serverFd());
      try (ReceivedHandoff got = receiver.receiveAvailable(false)) {
        assertEquals(tcp.header(3), got.header());
        assertFalse(receiver.plain(), "the first message made the link a handoff link");
        assertEquals("first", tcp.roundTripThrough(got.descriptor(), "first"));
      }
    }
  }

  @Test
  void eachQueuedMessageComesOutOncePerCall() throws IOException {
    List<TcpPair> pairs = new ArrayList<>();
    try {
      for (int i = 1; i <= 5; i++) {
        TcpPair tcp = TcpPair.open();
        pairs.add(tcp);
        ByteBuffer message = encoded(tcp.header(i));
        writePiece(message, message.remaining(), tcp.serverFd());
      }
      for (int i = 1; i <= 5; i++) {
        try (ReceivedHandoff got = receiver.receiveAvailable(false)) {
          assertEquals(pairs.get(i - 1).header(i), got.header());
        }
      }
      assertSame(HandoffChannel.INCOMPLETE, receiver.receiveAvailable(false));
    } finally {
      for (TcpPair tcp : pairs) {
        tcp.close();
      }
    }
  }

  @Test
  void theEndIsReadOnceSeen() throws IOException {
    try (TcpPair tcp = TcpPair.open()) {
      ByteBuffer message = encoded(tcp.header(4));
      writePiece(message, message.remaining(), tcp.serverFd());
      rawSender.shutdownOutput();
      try (ReceivedHandoff got = receiver.receiveAvailable(true)) {
        assertEquals(4, got.header().connectionId(), "what was queued before the end comes first");
      }
      assertNull(receiver.receiveAvailable(true));
    }
  }

  @Test
  void aMessageCutByTheEndIsRefusedAndItsDescriptorClosed() throws IOException {
    try (TcpPair first = TcpPair.open(); TcpPair tcp = TcpPair.open()) {
      ByteBuffer whole = encoded(first.header(1));
      writePiece(whole, whole.remaining(), first.serverFd());
      receiver.receiveAvailable(false).close();
      int before = OpenDescriptors.count();
      ByteBuffer message = encoded(tcp.header(5));
      writePiece(message, 12, tcp.serverFd());
      assertSame(HandoffChannel.INCOMPLETE, receiver.receiveAvailable(false));
      assertEquals(before + 1, OpenDescriptors.count(), "the descriptor waits with its bytes");
      rawSender.shutdownOutput();
      HandoffException e = assertThrows(HandoffException.class,
          () -> receiver.receiveAvailable(true));
      assertEquals(Reason.TRUNCATED, e.reason());
      assertEquals(before, OpenDescriptors.count(), "the cut message's descriptor is closed");
    }
  }

  @Test
  void acknowledgementsWrittenTogetherAreReadTogetherInOrder() throws IOException {
    AFUNIXSocketAddress address = AFUNIXSocketAddress.of(dir.resolve("acks.sock"));
    try (AFUNIXServerSocketChannel listener = AFUNIXServerSocketChannel.open()) {
      listener.bind(address);
      HandoffChannel proxy = HandoffChannel.connect(dir.resolve("acks.sock"));
      HandoffChannel app = HandoffChannel.accepted(listener.accept(), "proxy");
      try {
        List<Acknowledgement> acks = new ArrayList<>();
        for (int i = 1; i <= 150; i++) { // more than one batch on both sides
          acks.add(new Acknowledgement(i, i % 3 == 0 ? Acknowledgement.Status.RETRY
              : Acknowledgement.Status.ADOPTED));
        }
        app.sendAcks(acks);
        app.sendAck(new Acknowledgement(151, Acknowledgement.Status.REJECTED));
        for (Acknowledgement expected : acks) {
          assertEquals(expected, proxy.receiveAck());
        }
        assertEquals(new Acknowledgement(151, Acknowledgement.Status.REJECTED),
            proxy.receiveAck());
        app.shutdownOutput();
        assertNull(proxy.receiveAck(), "the end between acknowledgements");
      } finally {
        proxy.close();
        app.close();
      }
    }
  }

  @Test
  void anAcknowledgementCutByTheEndIsTruncated() throws IOException {
    AFUNIXSocketAddress address = AFUNIXSocketAddress.of(dir.resolve("cut.sock"));
    try (AFUNIXServerSocketChannel listener = AFUNIXServerSocketChannel.open()) {
      listener.bind(address);
      HandoffChannel proxy = HandoffChannel.connect(dir.resolve("cut.sock"));
      try (AFUNIXSocketChannel app = listener.accept()) {
        ByteBuffer bytes = ByteBuffer.allocate(2 * AckCodec.LENGTH);
        AckCodec.encode(new Acknowledgement(1, Acknowledgement.Status.ADOPTED), bytes);
        AckCodec.encode(new Acknowledgement(2, Acknowledgement.Status.ADOPTED), bytes);
        bytes.flip().limit(AckCodec.LENGTH + 5);
        while (bytes.hasRemaining()) {
          app.write(bytes);
        }
        app.shutdownOutput();
        assertEquals(new Acknowledgement(1, Acknowledgement.Status.ADOPTED), proxy.receiveAck());
        HandoffException e = assertThrows(HandoffException.class, proxy::receiveAck);
        assertEquals(Reason.TRUNCATED, e.reason());
      } finally {
        proxy.close();
      }
    }
  }
}
