package dev.handoff.common;

import dev.handoff.common.HandoffException.Reason;
import java.io.FileDescriptor;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.newsclub.net.unix.FileDescriptorCast;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One end of a link between a proxy and an app: sends and receives "one descriptor plus its
 * header" over a connected unix stream socket, in blocking mode.
 *
 * <p>Each message is one write of the encoded header with the descriptor attached as SCM_RIGHTS
 * ancillary data. The header is never empty: the kernel delivers ancillary data only together with
 * at least one data byte.
 *
 * <p>Descriptors: {@link #send} never closes the descriptor it is given; the caller may close its
 * copy as soon as it returns. {@link #receive} returns a {@link ReceivedHandoff} that owns a
 * duplicate of the received descriptor, detached from this channel; every other descriptor that
 * arrives (extra ones, ones on a rejected message) is closed before {@code receive} returns or
 * throws. Closing this channel therefore never closes a connection handed over on it.
 *
 * <p>Handoffs go from proxy to app, acknowledgements from app to proxy. One thread may send
 * handoffs while another receives acknowledgements (the proxy), or one thread may do both
 * receiving handoffs and sending acknowledgements (the app); no method is safe to call from two
 * threads at once.
 *
 * <p>Plain mode (docs/PROTOCOL.md, "Plain mode"): a link accepted with plain links allowed whose
 * first message does not begin with the protocol's magic, and carries exactly one descriptor with
 * at most {@link #PLAIN_MAX_PAYLOAD} bytes of payload, is a plain link from then on: each message
 * is one connection, its payload is ignored, and {@link #receive} returns it with a synthesized
 * header. The first message decides; a link never changes mode.
 */
public final class HandoffChannel implements HandoffLink {
  private static final Logger log = LoggerFactory.getLogger(HandoffChannel.class);
  /** The largest payload a plain message may carry (Go's one zero byte, runc's file name...). */
  public static final int PLAIN_MAX_PAYLOAD = 256;
  private static final InetSocketAddress NO_ADDRESS =
      new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);

  /** What a link's first message showed it to be. */
  public enum Mode {
    /** Nothing received yet. */
    UNDECIDED,
    /** The handoff protocol: headers, acknowledgements. */
    HANDOFF,
    /** Plain descriptor passing: one descriptor per message, no answers. */
    PLAIN
  }

  /** Reads go through the link's own channel. */
  private final AFUNIXSocketChannel channel;
  /**
   * Writes go through a channel on a duplicate of the link's descriptor, because junixsocket
   * closes a channel whose write fails with a broken pipe: with one channel, a peer that stopped
   * reading (a proxy that gave up on this app, an app that stopped taking handoffs) would take
   * with it every message and answer still queued for reading, descriptors included. Closing this
   * cast channel leaves {@link #writerFd} open; {@link #close()} closes it.
   */
  private final AFUNIXSocketChannel writer;
  private final FileDescriptor writerFd;
  private final String peer;
  private final ByteBuffer out = ByteBuffer.allocateDirect(HeaderCodec.MAX_ENCODED_LENGTH);
  private final ByteBuffer prefix = ByteBuffer.allocateDirect(HeaderCodec.PREFIX_LENGTH);
  private final ByteBuffer body = ByteBuffer.allocateDirect(HeaderCodec.MAX_LENGTH);
  private final ByteBuffer ackOut = ByteBuffer.allocateDirect(AckCodec.LENGTH);
  private final ByteBuffer ackIn = ByteBuffer.allocateDirect(AckCodec.LENGTH);
  private final List<FileDescriptor> arrived = new ArrayList<>(2);
  private final boolean acceptPlain;
  private volatile Mode mode = Mode.UNDECIDED;
  /** Connection ids of plain handoffs, from 1 on this link. */
  private long plainIds;
  /** One message's worth of a plain link, and the first read of a link that may be plain. */
  private final ByteBuffer plainIn = ByteBuffer.allocateDirect(PLAIN_MAX_PAYLOAD + 1);
  /**
   * Bytes of the first read that belong to the protocol messages after it, and the descriptors
   * that came with them (they belong to the message that ends the carried bytes): the first read
   * of a link that may be plain is not bounded by a header length (see {@link #decideMode}).
   */
  private ByteBuffer carry;
  private final List<FileDescriptor> carriedFds = new ArrayList<>(1);

  /** Takes ownership of {@code channel}: if this throws, it has closed it. */
  private HandoffChannel(AFUNIXSocketChannel channel, String peer, boolean acceptPlain)
      throws IOException {
    this.channel = channel;
    this.peer = peer;
    this.acceptPlain = acceptPlain;
    FileDescriptorCast duplicate;
    try {
      duplicate = FileDescriptorCast.duplicating(channel.getFileDescriptor());
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw new IOException("duplicate the link to " + peer + ": " + Errors.describe(e), e);
    }
    this.writerFd = duplicate.getFileDescriptor();
    try {
      this.writer = duplicate.as(AFUNIXSocketChannel.class);
    } catch (IOException | RuntimeException e) {
      Descriptors.close(writerFd);
      channel.close();
      throw new IOException("duplicate the link to " + peer + ": " + Errors.describe(e), e);
    }
  }

  /** Connects to an app's socket, as a proxy does: nothing with descriptors comes back. */
  public static HandoffChannel connect(Path socket) throws IOException {
    return connect(socket, false);
  }

  /**
   * Connects to an app's socket.
   *
   * @param receivesHandoffs whether handoffs will come back this way (a successor app taking
   *     over from a running one); if not, the kernel discards any descriptor the peer sends
   */
  public static HandoffChannel connect(Path socket, boolean receivesHandoffs) throws IOException {
    AFUNIXSocketChannel channel = AFUNIXSocketChannel.open();
    try {
      channel.connect(AFUNIXSocketAddress.of(socket));
      if (receivesHandoffs) {
        JunixsocketInternals.setFullAncillaryReceiveBuffer(channel);
      }
      return new HandoffChannel(channel, socket.toString(), false);
    } catch (IOException e) {
      channel.close();
      throw new IOException("connect to " + socket + ": " + Errors.describe(e), e);
    }
  }

  /**
   * Wraps an accepted link, which this object then owns (if this throws, it has closed it).
   *
   * @param peer how to name the other end in messages
   */
  public static HandoffChannel accepted(AFUNIXSocketChannel channel, String peer)
      throws IOException {
    return accepted(channel, peer, false);
  }

  /**
   * Wraps an accepted link, which this object then owns (if this throws, it has closed it).
   *
   * @param peer how to name the other end in messages
   * @param acceptPlain whether the link may turn out to be a plain one (see "Plain mode" above);
   *     if not, a first message without the magic is refused as {@code BAD_MAGIC}
   */
  public static HandoffChannel accepted(AFUNIXSocketChannel channel, String peer,
      boolean acceptPlain) throws IOException {
    // Room for every descriptor one message can carry, so that all of them can be closed.
    try {
      JunixsocketInternals.setFullAncillaryReceiveBuffer(channel);
    } catch (RuntimeException e) {
      channel.close();
      throw e;
    }
    return new HandoffChannel(channel, peer, acceptPlain);
  }

  /** Whether this is a plain link: its sender reads no answers and should be sent none. */
  @Override
  public boolean plain() {
    return mode == Mode.PLAIN;
  }

  /** What the link's first message showed it to be. */
  public Mode mode() {
    return mode;
  }

  /**
   * Sends one descriptor the plain way, to a receiver that does not speak the handoff protocol:
   * one byte of payload (a zero) with the descriptor attached, as Go's {@code WriteMsgUnix} does.
   * Nothing comes back. The caller may close its copy as soon as this returns.
   */
  public void sendPlain(FileDescriptor fd) throws IOException {
    ByteBuffer one = ByteBuffer.allocate(1);
    try {
      writer.setOutboundFileDescriptors(fd);
      if (writer.write(one) != 1) { // a blocking channel writes the byte or throws
        throw new IOException("the link took no byte");
      }
    } catch (IOException e) {
      throw new IOException("send fd " + Descriptors.number(fd) + " to " + peer + ": "
          + Errors.describe(e), e);
    } finally {
      writer.setOutboundFileDescriptors();
    }
  }

  /**
   * Reads and discards until the peer closes the link: a plain receiver sends nothing, so this
   * returns when it goes away (or when this link is closed).
   */
  public void awaitEnd() throws IOException {
    ByteBuffer sink = ByteBuffer.allocate(256);
    try {
      while (channel.read(sink.clear()) >= 0) {
        closeArrivedIfAny();
      }
    } finally {
      closeArrivedIfAny();
    }
  }

  private void closeArrivedIfAny() throws IOException {
    collectDescriptors();
    closeArrived();
  }

  /**
   * Sends one handoff. Returns once the whole message is in the socket buffer: from then on the
   * kernel holds a reference to the connection and the caller may close its descriptor.
   */
  @Override
  public void send(HandoffHeader header, FileDescriptor fd) throws IOException {
    out.clear();
    HeaderCodec.encode(header, out);
    out.flip();
    try {
      if (fd != null) {
        writer.setOutboundFileDescriptors(fd);
      }
      writer.write(out);
      // The descriptor left with the first bytes; never attach it twice.
      writer.setOutboundFileDescriptors();
      while (out.hasRemaining()) {
        writer.write(out);
      }
    } catch (IOException e) {
      writer.setOutboundFileDescriptors();
      throw new IOException("send fd " + Descriptors.number(fd) + " (" + header + ") to " + peer
          + ": " + Errors.describe(e), e);
    }
  }

  /**
   * Sends a connection to a successor app: the header with the descriptor, then the bytes this
   * app read from the client and has not echoed yet, which the successor sends first, then the
   * connection's exported handler state (empty if it has none).
   */
  @Override
  public void sendMigrated(HandoffHeader header, FileDescriptor fd, byte[] pending, byte[] state)
      throws IOException {
    send(header.migrated(pending.length, state.length), fd);
    try {
      // One buffer at a time: junixsocket's gathering write does not write them all.
      for (ByteBuffer rest : new ByteBuffer[] {ByteBuffer.wrap(pending), ByteBuffer.wrap(state)}) {
        while (rest.hasRemaining()) {
          writer.write(rest);
        }
      }
    } catch (IOException e) {
      throw new IOException("send unsent bytes of " + header + " to " + peer + ": "
          + Errors.describe(e), e);
    }
  }

  /**
   * Receives the next handoff.
   *
   * @return the handoff, or {@code null} if the peer closed the link between messages
   * @throws HandoffException if the message was refused; every descriptor it carried is closed,
   *     and {@link HandoffException.Reason#resynchronisable()} says whether the next message can
   *     still be read
   * @throws IOException if the link failed
   */
  @Override
  public ReceivedHandoff receive() throws IOException {
    try {
      if (mode == Mode.UNDECIDED) {
        Mode decided = decideMode();
        if (decided == null) {
          return null;
        }
        if (decided == Mode.PLAIN) {
          return plainMessage();
        }
      } else if (mode == Mode.PLAIN) {
        plainIn.clear();
        if (!readPlain()) {
          return null;
        }
        return plainMessage();
      }
      return receiveHandoff();
    } catch (HandoffException e) {
      if (!e.reason().resynchronisable()) {
        dropCarry(); // the link ends: nothing after this message will be read
      }
      throw e;
    } finally {
      // Only the duplicate inside a returned handoff survives.
      closeArrived();
    }
  }

  /**
   * Reads the link's first message, or as much of it as one read returns, and decides the link's
   * mode. A plain message arrives whole in one read: the kernel ends a read at the end of the
   * segment that carried descriptors, and a plain sender sends one message at a time. A protocol
   * message's bytes go to {@link #carry}, where the header reader finds them.
   *
   * @return the mode, or {@code null} if the peer closed the link without sending anything
   */
  private Mode decideMode() throws IOException {
    plainIn.clear();
    if (!readPlain()) {
      return null;
    }
    // A protocol sender's header arrives whole with its descriptor; one that trickles in without
    // one is read until its first four bytes show whether they are the magic.
    while (arrived.isEmpty() && plainIn.position() < 4 && isMagicPrefix(plainIn)) {
      int n = channel.read(plainIn);
      collectDescriptors();
      if (n < 0) {
        throw new HandoffException(Reason.TRUNCATED, "link from " + peer + " closed after "
            + plainIn.position() + " bytes of its first message");
      }
    }
    boolean magic = plainIn.position() >= 4 && plainIn.getInt(0) == HeaderCodec.MAGIC;
    if (!magic && !arrived.isEmpty()) {
      if (arrived.size() != 1 || plainIn.position() > PLAIN_MAX_PAYLOAD) {
        throw new HandoffException(Reason.BAD_MAGIC, "the first message from " + peer
            + " is neither a handoff header nor a plain handoff (it came with " + arrived.size()
            + " descriptors and " + describeLength(plainIn.position())
            + "; a plain handoff has exactly one and at most " + PLAIN_MAX_PAYLOAD + ")");
      }
      if (!acceptPlain) {
        throw new HandoffException(Reason.BAD_MAGIC, "the first message from " + peer
            + " is a plain handoff (no magic, one descriptor, " + plainIn.position()
            + " bytes of payload), and plain links are turned off here (app --no-plain)");
      }
      mode = Mode.PLAIN;
      log.info("link from {} is a plain link: one descriptor per message, no acknowledgements",
          peer);
      return mode;
    }
    mode = Mode.HANDOFF;
    log.info("link from {} speaks the handoff protocol", peer);
    plainIn.flip();
    carry = ByteBuffer.allocate(plainIn.remaining()).put(plainIn).flip();
    carriedFds.addAll(arrived);
    arrived.clear();
    return mode;
  }

  private static boolean isMagicPrefix(ByteBuffer first) {
    for (int i = 0; i < first.position(); i++) {
      if (first.get(i) != (byte) (HeaderCodec.MAGIC >>> (24 - 8 * i))) {
        return false;
      }
    }
    return true;
  }

  private static String describeLength(int read) {
    return read > PLAIN_MAX_PAYLOAD ? "more than " + PLAIN_MAX_PAYLOAD + " bytes"
        : read + " bytes";
  }

  /** One read of a plain message into {@link #plainIn}; false at the end of the link. */
  private boolean readPlain() throws IOException {
    int n;
    do {
      n = channel.read(plainIn);
      collectDescriptors();
    } while (n == 0 && plainIn.hasRemaining());
    return n >= 0;
  }

  /** Validates the plain message in {@link #plainIn} and takes its descriptor over. */
  private ReceivedHandoff plainMessage() throws IOException {
    long id = ++plainIds;
    int length = plainIn.position();
    if (length > PLAIN_MAX_PAYLOAD) {
      throw new HandoffException(Reason.BAD_LENGTH, id, "plain message " + id + " from " + peer
          + " has more than " + PLAIN_MAX_PAYLOAD + " bytes of payload (with " + arrived.size()
          + " descriptors); the rest of it cannot be told from the next message");
    }
    if (arrived.isEmpty()) {
      throw new HandoffException(Reason.NO_DESCRIPTOR, id, "plain message " + id + " from "
          + peer + " (" + length + " bytes) arrived without a descriptor");
    }
    if (arrived.size() > 1) {
      throw new HandoffException(Reason.EXTRA_DESCRIPTORS, id, "plain message " + id + " from "
          + peer + " arrived with " + arrived.size() + " descriptors (expected 1)");
    }
    FileDescriptor fd = arrived.get(0);
    InetSocketAddress client = JunixsocketInternals.socketAddress(fd, true);
    InetSocketAddress local = JunixsocketInternals.socketAddress(fd, false);
    java.time.Instant now = java.time.Instant.now();
    HandoffHeader header = new HandoffHeader(id, now.getEpochSecond() * 1_000_000L
        + now.getNano() / 1_000, client != null ? client : NO_ADDRESS,
        local != null ? local : NO_ADDRESS);
    return takeOver(header, fd, null, null);
  }

  private void dropCarry() {
    carry = null;
    for (FileDescriptor fd : carriedFds) {
      Descriptors.close(fd);
    }
    carriedFds.clear();
  }

  /** The handoff protocol's message: header, descriptor, and for MIGRATED the unsent bytes. */
  private ReceivedHandoff receiveHandoff() throws IOException {
    prefix.clear();
    if (!readFully(prefix, true)) {
      return null;
    }
    prefix.flip();
    int length = HeaderCodec.decodePrefix(prefix);
    body.clear().limit(length - HeaderCodec.PREFIX_LENGTH);
    readFully(body, false);
    body.flip();
    HandoffHeader.Kind kind = HeaderCodec.kindOf(prefix, body);
    HandoffHeader header = HeaderCodec.decodeBody(body, kind);
    if (kind == HandoffHeader.Kind.TAKEOVER) {
      if (!arrived.isEmpty()) {
        throw new HandoffException(Reason.EXTRA_DESCRIPTORS, header.connectionId(),
            "a take-over request came with " + arrived.size() + " descriptors");
      }
      return new ReceivedHandoff(header, null, -1, null);
    }
    byte[] pending = null;
    byte[] state = null;
    if (kind == HandoffHeader.Kind.MIGRATED) {
      ByteBuffer bytes = ByteBuffer.allocate((int) header.pendingBytes());
      readFully(bytes, false);
      pending = bytes.array();
      ByteBuffer stateBytes = ByteBuffer.allocate((int) header.stateBytes());
      readFully(stateBytes, false);
      state = stateBytes.array();
    }
    return takeOver(header, exactlyOneDescriptor(header), pending, state);
  }

  private void closeArrived() {
    for (FileDescriptor fd : arrived) {
      Descriptors.close(fd);
    }
    arrived.clear();
  }

  /**
   * Sends the app's answer to one handoff; on a plain link, nothing. Safe to call from two
   * threads.
   */
  @Override
  public synchronized void sendAck(Acknowledgement ack) throws IOException {
    if (mode == Mode.PLAIN) {
      return; // a plain sender reads nothing: no answer is ever written on its link
    }
    ackOut.clear();
    AckCodec.encode(ack, ackOut);
    ackOut.flip();
    try {
      while (ackOut.hasRemaining()) {
        writer.write(ackOut);
      }
    } catch (IOException e) {
      throw new IOException("acknowledge c" + ack.connectionId() + " to " + peer + ": "
          + Errors.describe(e), e);
    }
  }

  /**
   * Receives the next acknowledgement. Descriptors cannot arrive this way: the proxy's side has no
   * ancillary buffer, so the kernel discards any an app attaches.
   *
   * @return the acknowledgement, or {@code null} if the app closed the link between messages
   * @throws HandoffException if the bytes are not an acknowledgement: the link lost framing
   */
  @Override
  public Acknowledgement receiveAck() throws IOException {
    try {
      ackIn.clear();
      if (!readFully(ackIn, true)) {
        return null;
      }
      ackIn.flip();
      return AckCodec.decode(ackIn);
    } finally {
      closeArrived();
    }
  }

  /**
   * Stops receiving: a read blocked in another thread returns once what is already queued has
   * been read, and the peer's sends fail from now on. Sending still works.
   */
  @Override
  public void shutdownInput() throws IOException {
    channel.shutdownInput();
  }

  /** Sends no more: the peer reads what was sent, then the end of the stream. */
  @Override
  public void shutdownOutput() throws IOException {
    channel.shutdownOutput();
  }

  /** Credentials of the process at the other end, as the kernel recorded them at connect. */
  public AFUNIXSocketCredentials peerCredentials() throws IOException {
    return channel.getPeerCredentials();
  }

  /** How messages name the other end. */
  @Override
  public String peer() {
    return peer;
  }

  /** Closes the link; safe to call more than once. */
  @Override
  public void close() throws IOException {
    try {
      writer.close();
    } finally {
      Descriptors.close(writerFd);
      dropCarry();
      channel.close();
    }
  }

  /**
   * Whether this side is still open. False once this process closed it, also when the JDK closed
   * it because a thread blocked on it was interrupted; the peer closing its end does not change it.
   */
  public boolean isOpen() {
    return channel.isOpen();
  }

  private boolean readFully(ByteBuffer dst, boolean eofAllowedAtStart) throws IOException {
    if (carry != null && carry.hasRemaining() && dst.hasRemaining()) {
      int k = Math.min(carry.remaining(), dst.remaining());
      dst.put(carry.slice().limit(k));
      carry.position(carry.position() + k);
      if (!carry.hasRemaining()) {
        // The descriptors came with the last segment read, which ends here.
        arrived.addAll(carriedFds);
        carriedFds.clear();
        carry = null;
      }
    }
    while (dst.hasRemaining()) {
      int n = channel.read(dst);
      collectDescriptors();
      if (n < 0) {
        if (eofAllowedAtStart && dst.position() == 0) {
          return false;
        }
        throw new HandoffException(Reason.TRUNCATED, "link from " + peer + " closed after "
            + dst.position() + " of " + dst.limit() + " bytes of a message");
      }
    }
    return true;
  }

  private void collectDescriptors() throws IOException {
    FileDescriptor[] fds = channel.getReceivedFileDescriptors();
    if (fds != null) {
      for (FileDescriptor fd : fds) {
        arrived.add(fd);
      }
    }
  }

  private FileDescriptor exactlyOneDescriptor(HandoffHeader header) throws HandoffException {
    if (arrived.isEmpty()) {
      throw new HandoffException(Reason.NO_DESCRIPTOR, header.connectionId(),
          header + " arrived without a descriptor");
    }
    if (arrived.size() > 1) {
      throw new HandoffException(Reason.EXTRA_DESCRIPTORS, header.connectionId(),
          header + " arrived with " + arrived.size() + " descriptors (expected 1)");
    }
    return arrived.get(0);
  }

  /**
   * junixsocket closes, when this channel closes, every descriptor it received that is still open.
   * A duplicate is not tracked by it, so it outlives the link; the original is closed by
   * {@link #receive}.
   */
  private static ReceivedHandoff takeOver(HandoffHeader header, FileDescriptor received,
      byte[] pending, byte[] state) throws HandoffException {
    try {
      FileDescriptorCast duplicate = FileDescriptorCast.duplicating(received);
      return new ReceivedHandoff(header, duplicate.getFileDescriptor(),
          duplicate.as(Integer.class), pending, state);
    } catch (IOException e) {
      throw new HandoffException(Reason.NO_RESOURCES, header.connectionId(),
          "take over fd " + Descriptors.number(received) + " of " + header + ": " + Errors.describe(e));
    }
  }
}
