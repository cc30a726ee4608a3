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

  /**
   * COPIES messages (several copies of a take-over's first phase in one): each reads as its
   * PREPARED copies, in order, and each copy's descriptor is its own connection's, however the
   * messages' descriptors and bytes were split among reads.
   */
  @Test
  void copiesSentSeveralToAMessageArriveOneByOneEachWithItsOwnConnection() throws IOException {
    int n = 150; // a message of 64, one of 85 and one of 1
    java.util.List<TcpPair> pairs = new java.util.ArrayList<>();
    try {
      java.util.List<HandoffHeader> headers = new java.util.ArrayList<>();
      java.util.List<FileDescriptor> fds = new java.util.ArrayList<>();
      for (int i = 1; i <= n; i++) {
        TcpPair pair = TcpPair.open();
        pairs.add(pair);
        headers.add(pair.header(i).as(HandoffHeader.Kind.PREPARED, 0, 0));
        fds.add(pair.serverFd());
      }
      sender.sendCopies(headers.subList(0, 64), fds.subList(0, 64));
      sender.sendCopies(headers.subList(64, 149), fds.subList(64, 149));
      sender.sendCopies(headers.subList(149, 150), fds.subList(149, 150));
      for (int i = 1; i <= n; i++) {
        try (ReceivedHandoff got = receiver.receive()) {
          assertEquals(headers.get(i - 1), got.header(), "copies arrive in order, as sent");
          assertEquals(pairs.get(i - 1).header(i).client(),
              dev.handoff.common.internal.JunixsocketInternals.socketAddress(got.descriptor(),
                  true), "copy " + i + " carries its own connection's descriptor");
          assertEquals(i != 64 && i != 149 && i != 150, receiver.messageWaiting(),
              "copies of the message read are waiting after copy " + i);
        }
      }
    } finally {
      for (TcpPair p : pairs) {
        p.close();
      }
    }
  }

  /**
   * A switch sent in SWITCHES messages reads as its SWITCHED and DROPPED messages, bytes and state
   * intact; a connection with more bytes than one holds comes alone, as a SWITCHED message.
   */
  @Test
  void aSwitchInSwitchesMessagesReadsAsItsSwitchedAndDroppedMessages() throws Exception {
    byte[] big = new byte[300_000]; // more than a SWITCHES message holds
    java.util.Arrays.fill(big, (byte) 'x');
    java.util.List<SwitchedConnection> all = new java.util.ArrayList<>();
    all.add(SwitchedConnection.switched(FakeHeaders.of(1), big, "s1".getBytes()));
    for (long id = 2; id <= 3001; id++) { // more than one SWITCHES message's worth
      all.add(id % 2 == 0 ? SwitchedConnection.dropped(FakeHeaders.of(id))
          : SwitchedConnection.switched(FakeHeaders.of(id), ("p" + id).getBytes(),
              ("s" + id).getBytes()));
    }
    java.util.concurrent.CompletableFuture<Void> switching =
        java.util.concurrent.CompletableFuture.runAsync(() -> {
          try {
            sender.sendSwitches(all);
          } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        });
    int batched = 0;
    for (long id = 1; id <= 3001; id++) {
      try (ReceivedHandoff got = receiver.receive()) {
        assertEquals(id, got.header().connectionId(), "in the order sent");
        assertNull(got.descriptor(), "a switch carries no descriptor");
        if (id == 1) {
          assertEquals(HandoffHeader.Kind.SWITCHED, got.header().kind());
          assertTrue(java.util.Arrays.equals(big, got.pending()), "the big one's bytes intact");
          assertEquals("s1", new String(got.state()));
          assertTrue(!receiver.messageWaiting(), "the big one came alone");
        } else if (id % 2 == 0) {
          assertEquals(HandoffHeader.Kind.DROPPED, got.header().kind());
        } else {
          assertEquals(HandoffHeader.Kind.SWITCHED, got.header().kind());
          assertEquals("p" + id, new String(got.pending()));
          assertEquals("s" + id, new String(got.state()));
        }
        batched += receiver.messageWaiting() ? 1 : 0;
      }
    }
    switching.get(10, java.util.concurrent.TimeUnit.SECONDS);
    assertTrue(batched > 2900, "the small ones came several to a message: " + batched);
  }

  @Test
  void aSwitchesMessageWithADescriptorIsRefusedAndTheDescriptorClosed() throws IOException {
    try (TcpPair tcp = TcpPair.open()) {
      HandoffHeader dropped = tcp.header(1).as(HandoffHeader.Kind.DROPPED, 0, 0);
      java.net.InetSocketAddress none = new java.net.InetSocketAddress(0);
      ByteBuffer bytes = ByteBuffer.allocate(HeaderCodec.MIGRATED_LENGTH + HeaderCodec.V1_LENGTH);
      HeaderCodec.encode(new HandoffHeader(1, 0, none, none, HandoffHeader.Kind.SWITCHES,
          HeaderCodec.V1_LENGTH, 0), bytes);
      HeaderCodec.encode(dropped, bytes);
      rawSender.setOutboundFileDescriptors(tcp.serverFd());
      rawSender.write(bytes.flip());
      int before = OpenDescriptors.count();
      HandoffException e = assertThrows(HandoffException.class, receiver::receive);
      assertEquals(Reason.BAD_LENGTH, e.reason());
      assertTrue(e.getMessage().contains("SWITCHES message came with 1 descriptors"),
          e.getMessage());
      assertEquals(before, OpenDescriptors.count(), "the descriptor that came was closed");
    }
  }

  @Test
  void copiesNotYetReceivedAreClosedWithTheLink() throws IOException {
    try (TcpPair one = TcpPair.open(); TcpPair two = TcpPair.open();
        TcpPair three = TcpPair.open()) {
      sender.sendCopies(java.util.List.of(one.header(1).as(HandoffHeader.Kind.PREPARED, 0, 0),
          two.header(2).as(HandoffHeader.Kind.PREPARED, 0, 0),
          three.header(3).as(HandoffHeader.Kind.PREPARED, 0, 0)),
          java.util.List.of(one.serverFd(), two.serverFd(), three.serverFd()));
      try (ReceivedHandoff first = receiver.receive()) {
        assertEquals(1, first.header().connectionId());
      }
      assertTrue(receiver.messageWaiting());
      // The two others are the link's: closing it (after this test) closes them, which
      // unlink() checks by counting this process's descriptors.
    }
  }

  /** A COPIES message whose descriptors are not one per copy is refused whole, all closed. */
  @Test
  void copiesWithADescriptorMissingAreRefusedWholeAndEveryDescriptorClosed() throws IOException {
    try (TcpPair one = TcpPair.open(); TcpPair two = TcpPair.open()) {
      java.util.List<HandoffHeader> copies = java.util.List.of(
          one.header(1).as(HandoffHeader.Kind.PREPARED, 0, 0),
          two.header(2).as(HandoffHeader.Kind.PREPARED, 0, 0),
          two.header(3).as(HandoffHeader.Kind.PREPARED, 0, 0));
      int table = 3 * HeaderCodec.V1_LENGTH;
      java.net.InetSocketAddress none = new java.net.InetSocketAddress(0);
      ByteBuffer bytes = ByteBuffer.allocate(HeaderCodec.MIGRATED_LENGTH + table);
      HeaderCodec.encode(new HandoffHeader(3, 0, none, none, HandoffHeader.Kind.COPIES, table, 0),
          bytes);
      copies.forEach(h -> HeaderCodec.encode(h, bytes));
      rawSender.setOutboundFileDescriptors(one.serverFd(), two.serverFd());
      rawSender.write(bytes.flip());
      int before = OpenDescriptors.count();
      HandoffException e = assertThrows(HandoffException.class, receiver::receive);
      assertEquals(Reason.BAD_LENGTH, e.reason());
      assertTrue(e.getMessage().contains("2 descriptors (expected 3"), e.getMessage());
      assertEquals(before, OpenDescriptors.count(), "both descriptors that came were closed");
      assertTrue(!receiver.messageWaiting(), "no copy of a refused message is returned");
    }
  }

  /** A COPIES message announcing more copies than one sendmsg(2) can carry is refused unread. */
  @Test
  void copiesBeyondWhatOneMessageCanCarryAreRefusedBeforeTheirBytesAreRead() throws IOException {
    java.net.InetSocketAddress none = new java.net.InetSocketAddress(0);
    ByteBuffer bytes = ByteBuffer.allocate(HeaderCodec.MIGRATED_LENGTH);
    HeaderCodec.encode(new HandoffHeader(254, 0, none, none, HandoffHeader.Kind.COPIES,
        254L * HeaderCodec.V1_LENGTH, 0), bytes);
    rawSender.write(bytes.flip());
    HandoffException e = assertThrows(HandoffException.class, receiver::receive);
    assertEquals(Reason.BAD_LENGTH, e.reason());
    assertTrue(e.getMessage().contains("at most 253 copies"), e.getMessage());
  }

  /** A SWITCHES message announcing more connections than its bytes can hold is refused unread. */
  @Test
  void aSwitchesMessageAnnouncingMoreThanItsBytesHoldIsRefusedBeforeTheyAreRead()
      throws IOException {
    java.net.InetSocketAddress none = new java.net.InetSocketAddress(0);
    ByteBuffer bytes = ByteBuffer.allocate(HeaderCodec.MIGRATED_LENGTH + HeaderCodec.V1_LENGTH);
    long count = (1L << 58) + 1; // 64 bytes each: a product that overflows to 64
    HeaderCodec.encode(new HandoffHeader(count, 0, none, none, HandoffHeader.Kind.SWITCHES,
        HeaderCodec.V1_LENGTH, 0), bytes);
    HeaderCodec.encode(FakeHeaders.of(1).as(HandoffHeader.Kind.DROPPED, 0, 0), bytes);
    rawSender.write(bytes.flip());
    HandoffException e = assertThrows(HandoffException.class, receiver::receive);
    assertEquals(Reason.BAD_LENGTH, e.reason());
    assertTrue(e.getMessage().contains("a SWITCHES message of " + count + " connections"),
        e.getMessage());
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
