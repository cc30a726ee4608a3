package dev.handoff.common;

import dev.handoff.common.internal.JdkNioInternals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.HandoffException.Reason;
import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** The descriptor wrapper over a real unix socket pair, with real TCP sockets as payload. */
@Timeout(20)
class HandoffChannelTest {
  private AFUNIXSocketChannel rawSender;
  private HandoffChannel sender;
  private HandoffChannel receiver;
  private int baseline;

  @TempDir Path dir;

  /**
   * A connected pair through a listening socket. (junixsocket's AFUNIXSocketPair leaves two
   * descriptors open per pair after both ends are closed, which would hide real leaks here.)
   */
  /** One full round first, so that one-time initialisation does not count as a leak. */
  @BeforeAll
  static void warmUp(@TempDir Path warmDir) throws IOException {
    HandoffChannelTest warm = new HandoffChannelTest();
    warm.dir = warmDir;
    warm.link();
    warm.deliversTheHeaderAndAWorkingDescriptor();
    warm.sender.close();
    warm.receiver.close();
  }

  @BeforeEach
  void link() throws IOException {
    baseline = OpenDescriptors.count();
    AFUNIXSocketAddress address = AFUNIXSocketAddress.of(dir.resolve("link.sock"));
    try (AFUNIXServerSocketChannel listener = AFUNIXServerSocketChannel.open()) {
      listener.bind(address);
      rawSender = AFUNIXSocketChannel.open(address);
      receiver = HandoffChannel.accepted(listener.accept(), "receiver");
    }
    sender = HandoffChannel.accepted(rawSender, "sender");
  }

  @AfterEach
  void unlink() throws IOException {
    sender.close();
    receiver.close();
    assertEquals(baseline, OpenDescriptors.count(), "every descriptor the test opened is closed");
  }

  /**
   * A two-phase take-over's messages: copies with their descriptors, then one switch of several
   * connections in one write, bytes and state intact, without descriptors; a copy completed by
   * its switch is the same TCP connection.
   */
  @Test
  void aPreparedCopyCompletedByItsSwitchIsTheConnectionWithItsBytesAndState()
      throws IOException {
    try (TcpPair one = TcpPair.open(); TcpPair two = TcpPair.open()) {
      sender.send(one.header(1).as(HandoffHeader.Kind.PREPARED, 0, 0), one.serverFd());
      sender.send(two.header(2).as(HandoffHeader.Kind.PREPARED, 0, 0), two.serverFd());
      byte[] big = new byte[300_000]; // more than one write's gathering buffer
      java.util.Arrays.fill(big, (byte) 'x');
      // From another thread: more than the link's buffer holds until it is read.
      java.util.concurrent.CompletableFuture<Void> switching =
          java.util.concurrent.CompletableFuture.runAsync(() -> {
            try {
              sender.sendSwitch(java.util.List.of(
                  SwitchedConnection.switched(one.header(1), big, "state".getBytes()),
                  SwitchedConnection.dropped(two.header(2))));
            } catch (IOException e) {
              throw new java.io.UncheckedIOException(e);
            }
          });
      try (ReceivedHandoff c1 = receiver.receive(); ReceivedHandoff c2 = receiver.receive();
          ReceivedHandoff s1 = receiver.receive(); ReceivedHandoff d2 = receiver.receive()) {
        assertEquals(HandoffHeader.Kind.PREPARED, c1.header().kind());
        assertEquals(HandoffHeader.Kind.PREPARED, c2.header().kind());
        assertEquals(HandoffHeader.Kind.SWITCHED, s1.header().kind());
        assertNull(s1.descriptor(), "a switch carries no descriptor");
        assertEquals(HandoffHeader.Kind.DROPPED, d2.header().kind());
        assertEquals(2, d2.header().connectionId());
        switching.join();
        try (ReceivedHandoff moved = c1.completedBy(s1)) {
          assertEquals(HandoffHeader.Kind.MIGRATED, moved.header().kind());
          assertEquals(one.header(1).client(), moved.header().client());
          assertTrue(java.util.Arrays.equals(big, moved.pending()), "the unsent bytes intact");
          assertEquals("state", new String(moved.state()));
          assertEquals("hello", one.roundTripThrough(moved.descriptor(), "hello"),
              "the copy is the same TCP connection");
          assertThrows(IllegalStateException.class, c1::release, "the copy went to the move");
        }
      }
    }
  }

  @Test
  void aSwitchThatComesWithADescriptorIsRefusedAndTheDescriptorClosed() throws IOException {
    try (TcpPair tcp = TcpPair.open()) {
      sender.send(tcp.header(3).as(HandoffHeader.Kind.DROPPED, 0, 0), tcp.serverFd());
      HandoffException e = assertThrows(HandoffException.class, receiver::receive);
      assertEquals(Reason.EXTRA_DESCRIPTORS, e.reason());
    }
  }

  @Test
  void deliversTheHeaderAndAWorkingDescriptor() throws IOException {
    try (TcpPair tcp = TcpPair.open()) {
      sender.send(tcp.header(7), tcp.serverFd());
      try (ReceivedHandoff got = receiver.receive()) {
        assertNotNull(got);
        assertEquals(tcp.header(7), got.header());
        assertEquals("hello", tcp.roundTripThrough(got.descriptor(), "hello"),
            "the received descriptor is the same TCP connection");
      }
    }
  }

  @Test
  void senderMayCloseItsCopyRightAfterSending() throws IOException {
    try (TcpPair tcp = TcpPair.open()) {
      sender.send(tcp.header(1), tcp.serverFd());
      tcp.server.close(); // seed pitfall 2: the kernel holds a reference in flight
      try (ReceivedHandoff got = receiver.receive()) {
        assertEquals("still here", tcp.roundTripThrough(got.descriptor(), "still here"));
      }
    }
  }

  @Test
  void eachOfManyMessagesCarriesExactlyOneDescriptor() throws IOException {
    int n = 200;
    TcpPair[] pairs = new TcpPair[n];
    try {
      for (int i = 0; i < n; i++) {
        pairs[i] = TcpPair.open();
        sender.send(pairs[i].header(i), pairs[i].serverFd());
      }
      for (int i = 0; i < n; i++) {
        try (ReceivedHandoff got = receiver.receive()) {
          assertEquals(i, got.header().connectionId(), "messages arrive in order, one at a time");
        }
      }
    } finally {
      for (TcpPair p : pairs) {
        if (p != null) {
          p.close();
        }
      }
    }
  }

  @Test
  void receivedDescriptorsOutliveTheLink() throws IOException {
    try (TcpPair tcp = TcpPair.open()) {
      sender.send(tcp.header(3), tcp.serverFd());
      tcp.server.close();
      ReceivedHandoff got = receiver.receive();
      receiver.close(); // a proxy restart closes the link
      try (got) {
        assertEquals("alive", tcp.roundTripThrough(got.descriptor(), "alive"),
            "closing the link must not close a connection received on it");
      }
    }
  }

  /**
   * The handoff owns the very descriptor the kernel installed (the lowest number free), taken out
   * of junixsocket's bookkeeping, not a duplicate of it (which would have the next number free),
   * and still outlives the link (above). A copy costs a received connection four system calls.
   */
  @Test
  void theReceivedDescriptorIsTakenAsItArrivedWithoutACopy() throws IOException {
    try (TcpPair tcp = TcpPair.open()) {
      sender.send(tcp.header(3), tcp.serverFd());
      int lowestFree = lowestFreeDescriptor();
      try (ReceivedHandoff got = receiver.receive()) {
        assertEquals(lowestFree, got.number(), "the number recvmsg installed");
        assertEquals(lowestFree, Descriptors.number(got.descriptor()));
        receiver.close();
        assertEquals("taken", tcp.roundTripThrough(got.descriptor(), "taken"));
      }
    }
  }

  /** The number open(2) gives next: the lowest free one. */
  private static int lowestFreeDescriptor() throws IOException {
    try (java.io.FileInputStream probe = new java.io.FileInputStream("/dev/null")) {
      return Descriptors.number(probe.getFD());
    }
  }

  /**
   * A header is read ahead in one read, which may take several messages' bytes when the first
   * ones carry no descriptor (the kernel ends a read only after a segment that carried some): each
   * message still gets exactly the descriptors that came with it.
   */
  @Test
  void messagesQueuedWithoutDescriptorsAheadOfOneWithADescriptorAreToldApart() throws IOException {
    try (TcpPair tcp = TcpPair.open()) {
      ByteBuffer bare = ByteBuffer.allocate(2 * HeaderCodec.V1_LENGTH);
      HeaderCodec.encode(tcp.header(20), bare);
      HeaderCodec.encode(tcp.header(21), bare);
      rawSender.write(bare.flip());
      sender.send(tcp.header(22), tcp.serverFd());
      for (long id : new long[] {20, 21}) {
        HandoffException e = assertThrows(HandoffException.class, receiver::receive);
        assertEquals(Reason.NO_DESCRIPTOR, e.reason(), "c" + id + " came without one");
        assertEquals(id, e.connectionId());
      }
      try (ReceivedHandoff got = receiver.receive()) {
        assertEquals(22, got.header().connectionId());
        assertEquals("third", tcp.roundTripThrough(got.descriptor(), "third"));
      }
    }
  }

  @Test
  void releaseTransfersOwnershipOnce() throws IOException {
    try (TcpPair tcp = TcpPair.open()) {
      sender.send(tcp.header(4), tcp.serverFd());
      ReceivedHandoff got = receiver.receive();
      FileDescriptor fd = got.descriptor();
      got.release();
      got.close();
      assertTrue(fd.valid(), "close after release leaves the descriptor to its new owner");
      assertThrows(IllegalStateException.class, got::release, "a second release is an error");
      assertThrows(IllegalStateException.class, got::descriptor,
          "a released descriptor is no longer handed out");
      Descriptors.close(fd);
    }
  }

  @Test
  void returnsNullWhenTheSenderClosesBetweenMessages() throws IOException {
    sender.close();
    assertNull(receiver.receive());
  }

  @Test
  void refusesAMessageWithoutDescriptorAndCarriesOn() throws IOException {
    try (TcpPair tcp = TcpPair.open()) {
      ByteBuffer header = ByteBuffer.allocate(HeaderCodec.V1_LENGTH);
      HeaderCodec.encode(tcp.header(5), header);
      rawSender.write(header.flip());
      HandoffException e = assertThrows(HandoffException.class, receiver::receive);
      assertEquals(Reason.NO_DESCRIPTOR, e.reason());
      sender.send(tcp.header(6), tcp.serverFd());
      try (ReceivedHandoff got = receiver.receive()) {
        assertEquals(6, got.header().connectionId(), "the link resynchronises on the next message");
      }
    }
  }

  @Test
  void refusesTwoDescriptorsAndClosesBoth() throws IOException {
    try (TcpPair a = TcpPair.open(); TcpPair b = TcpPair.open()) {
      ByteBuffer header = ByteBuffer.allocate(HeaderCodec.V1_LENGTH);
      HeaderCodec.encode(a.header(8), header);
      rawSender.setOutboundFileDescriptors(a.serverFd(), b.serverFd());
      rawSender.write(header.flip());
      int before = OpenDescriptors.count();
      HandoffException e = assertThrows(HandoffException.class, receiver::receive);
      assertEquals(Reason.EXTRA_DESCRIPTORS, e.reason());
      assertEquals(before, OpenDescriptors.count(), "both received descriptors were closed");
    }
  }

  /**
   * A proxy that gives up on a stopped app closes the link with handoffs in it.
   * The app's answer then fails, and every handoff still queued must remain readable: a descriptor
   * left in a closed link is closed with it, and its client cut.
   */
  @Test
  void aFailedAnswerLeavesWhatWasSentReadable() throws IOException {
    try (TcpPair a = TcpPair.open(); TcpPair b = TcpPair.open()) {
      sender.send(a.header(11), a.serverFd());
      sender.send(b.header(12), b.serverFd());
      sender.close();
      try (ReceivedHandoff first = receiver.receive()) {
        assertEquals(11, first.header().connectionId());
      }
      IOException failed = assertThrows(IOException.class,
          () -> receiver.sendAck(new Acknowledgement(11, Acknowledgement.Status.ADOPTED)));
      assertTrue(failed.getMessage().contains("acknowledge c11"), failed.getMessage());
      try (ReceivedHandoff second = receiver.receive()) {
        assertNotNull(second, "the second handoff is still there");
        assertEquals(12, second.header().connectionId());
      }
      assertNull(receiver.receive(), "then the end of the link");
    }
  }

  /** An unknown kind is reported as such, not as BAD_LENGTH, and leaves a link in sync open. */
  @Test
  void refusesAnUnknownKindByItsNameClosesItsDescriptorAndCarriesOn() throws IOException {
    try (TcpPair a = TcpPair.open(); TcpPair b = TcpPair.open()) {
      ByteBuffer header = ByteBuffer.allocate(HeaderCodec.V1_LENGTH);
      HeaderCodec.encode(a.header(9), header);
      header.put(5, (byte) 0x40); // flags: a kind from the future
      rawSender.setOutboundFileDescriptors(a.serverFd());
      rawSender.write(header.flip());
      int before = OpenDescriptors.count();
      HandoffException e = assertThrows(HandoffException.class, receiver::receive);
      assertEquals(Reason.UNKNOWN_KIND, e.reason());
      assertEquals(9, e.connectionId(), "answered by its connection id");
      assertTrue(e.reason().resynchronisable());
      assertEquals(before, OpenDescriptors.count(), "its descriptor was closed");
      sender.send(b.header(10), b.serverFd());
      try (ReceivedHandoff got = receiver.receive()) {
        assertEquals(10, got.header().connectionId(), "the link goes on with the next message");
      }
    }
  }

  @Test
  void refusesTheKernelMaximumOf253DescriptorsAndClosesEveryOne() throws IOException {
    try (TcpPair tcp = TcpPair.open()) {
      FileDescriptor[] many = new FileDescriptor[253];
      java.util.Arrays.fill(many, tcp.serverFd());
      ByteBuffer header = ByteBuffer.allocate(HeaderCodec.V1_LENGTH);
      HeaderCodec.encode(tcp.header(11), header);
      rawSender.setOutboundFileDescriptors(many);
      rawSender.write(header.flip());
      int before = OpenDescriptors.count();
      HandoffException e = assertThrows(HandoffException.class, receiver::receive);
      assertEquals(Reason.EXTRA_DESCRIPTORS, e.reason());
      assertTrue(e.getMessage().contains("253 descriptors"), e.getMessage());
      assertEquals(before, OpenDescriptors.count(), "all 253 received descriptors were closed");
    }
  }

  @Test
  void refusesGarbageAndClosesItsDescriptor() throws IOException {
    try (TcpPair tcp = TcpPair.open()) {
      rawSender.setOutboundFileDescriptors(tcp.serverFd());
      rawSender.write(ByteBuffer.wrap("GET / HTTP/1.0\r\n\r\n".getBytes()));
      int before = OpenDescriptors.count();
      HandoffException e = assertThrows(HandoffException.class, receiver::receive);
      assertEquals(Reason.BAD_MAGIC, e.reason());
      assertEquals(before, OpenDescriptors.count(), "the descriptor that came with garbage is closed");
    }
  }

  @Test
  void refusesATruncatedMessage() throws IOException {
    try (TcpPair tcp = TcpPair.open()) {
      ByteBuffer header = ByteBuffer.allocate(HeaderCodec.V1_LENGTH);
      HeaderCodec.encode(tcp.header(9), header);
      header.flip().limit(20);
      rawSender.setOutboundFileDescriptors(tcp.serverFd());
      rawSender.write(header);
      rawSender.close();
      HandoffException e = assertThrows(HandoffException.class, receiver::receive);
      assertEquals(Reason.TRUNCATED, e.reason());
    }
  }

  @Test
  void deliversAPipeDescriptorForTheCallerToCheck() throws IOException {
    Pipe pipe = Pipe.open();
    try {
      FileDescriptor pipeFd = JdkNioInternals.descriptorOf(pipe.source());
      ByteBuffer header = ByteBuffer.allocate(HeaderCodec.V1_LENGTH);
      try (TcpPair tcp = TcpPair.open()) {
        sender.send(tcp.header(10), pipeFd);
      }
      try (ReceivedHandoff got = receiver.receive()) {
        assertNotNull(got, "the channel checks framing; the app checks the descriptor's kind");
      }
    } finally {
      pipe.source().close();
      pipe.sink().close();
    }
  }
}
