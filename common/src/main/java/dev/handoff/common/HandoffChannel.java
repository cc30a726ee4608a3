package dev.handoff.common;

import dev.handoff.common.internal.JunixsocketInternals;
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
 * copy as soon as it returns. {@link #receive} returns a {@link ReceivedHandoff} that owns the
 * received descriptor, detached from this channel (taken out of junixsocket's bookkeeping, or
 * duplicated where that cannot be reached); every other descriptor that
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
  private enum Mode {
    /** Nothing received yet. */
    UNDECIDED,
    /** The handoff protocol: headers, acknowledgements. */
    HANDOFF,
    /** Plain descriptor passing: one descriptor per message, no answers. */
    PLAIN
  }

  /** Reads go through the link's own channel. */
  private final AFUNIXSocketChannel channel;
  /** Writes go through a channel of their own (see {@link LinkWriter}). */
  private final LinkWriter writer;
  private final String peer;
  private final ByteBuffer prefix = ByteBuffer.allocateDirect(HeaderCodec.PREFIX_LENGTH);
  private final ByteBuffer body = ByteBuffer.allocateDirect(HeaderCodec.MAX_LENGTH);
  private final ByteBuffer ackIn = ByteBuffer.allocateDirect(AckCodec.LENGTH);
  /**
   * On a link that carries only acknowledgements towards this side (one this side connected
   * without taking handoffs, as a proxy does), the acknowledgements read and not yet returned: one
   * read takes every acknowledgement queued, up to {@link #ACK_BATCH}.
   */
  private final ByteBuffer ackBatch;
  /** How many acknowledgements one read of an acknowledgement-only link may take. */
  static final int ACK_BATCH = 64;
  /**
   * Polled reading ({@link #receiveAvailable}): the bytes known to be queued in the link and not
   * read yet, from the last FIONREAD less what was read since; a read of a blocking socket with
   * bytes queued returns at once, so a read is made only when this is above zero (or the link's
   * end is known to be there).
   */
  private int queued;
  private boolean polling;
  private boolean endSeen;
  private java.io.InputStream queueProbe;
  /** Where a message read by polling stopped when its next bytes were not there yet. */
  private int stage;
  private HandoffHeader reading;
  private ByteBuffer pendingIn;
  private ByteBuffer stateIn;
  /** The first read of a link that may be plain is done; its magic is still being read. */
  private boolean deciding;
  /** The descriptors of the message being read, until claimed or closed. */
  private final ArrivedDescriptors arrived;
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
  /** Where {@link #readAhead} reads; {@link #carry} while its bytes are being taken. */
  private final ByteBuffer ahead = ByteBuffer.allocateDirect(HeaderCodec.MAX_ENCODED_LENGTH);
  private final List<FileDescriptor> carriedFds = new ArrayList<>(1);
  /**
   * The messages of a COPIES or SWITCHES message not returned yet: {@link #receive} returns them
   * one by one before it reads the link again. Owned by this channel until returned (the copies'
   * descriptors too); closed with it.
   */
  private final java.util.ArrayDeque<ReceivedHandoff> batchAhead = new java.util.ArrayDeque<>();
  /** The most copies one COPIES message may carry: what one sendmsg(2) can pass on Linux. */
  public static final int MAX_COPIES = 253;
  /**
   * The longest a SWITCHES message's SWITCHED and DROPPED messages may be, together: a connection
   * with more bytes than fit goes alone, as a SWITCHED message.
   */
  public static final int MAX_SWITCHES_LENGTH = 256 * 1024;

  /** Takes ownership of {@code channel}: if this throws, it has closed it. */
  private HandoffChannel(AFUNIXSocketChannel channel, String peer, boolean acceptPlain,
      boolean acksOnly) throws IOException {
    this.channel = channel;
    this.peer = peer;
    this.acceptPlain = acceptPlain;
    this.ackBatch = acksOnly
        ? ByteBuffer.allocateDirect(ACK_BATCH * AckCodec.LENGTH).flip() : null;
    this.arrived = new ArrivedDescriptors(channel);
    try {
      this.writer = new LinkWriter(channel, peer);
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
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
   *     over from a running one); if not, the kernel discards any descriptor the peer sends, and
   *     {@link #receiveAck} reads every acknowledgement queued at once (up to 64) and returns
   *     them one by one
   */
  public static HandoffChannel connect(Path socket, boolean receivesHandoffs) throws IOException {
    AFUNIXSocketChannel channel = AFUNIXSocketChannel.open();
    try {
      channel.connect(AFUNIXSocketAddress.of(socket));
      if (receivesHandoffs) {
        JunixsocketInternals.setFullAncillaryReceiveBuffer(channel);
      }
      return new HandoffChannel(channel, socket.toString(), false, !receivesHandoffs);
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
    return new HandoffChannel(channel, peer, acceptPlain, false);
  }

  /** Whether this is a plain link: its sender reads no answers and should be sent none. */
  @Override
  public boolean plain() {
    return mode == Mode.PLAIN;
  }

  /**
   * Sends one descriptor the plain way, to a receiver that does not speak the handoff protocol:
   * one byte of payload (a zero) with the descriptor attached, as Go's {@code WriteMsgUnix} does.
   * Nothing comes back. The caller may close its copy as soon as this returns.
   */
  public void sendPlain(FileDescriptor fd) throws IOException {
    writer.sendPlain(fd);
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
    arrived.collect();
    arrived.closeAll();
  }

  /**
   * Sends one handoff. Returns once the whole message is in the socket buffer: from then on the
   * kernel holds a reference to the connection and the caller may close its descriptor.
   */
  @Override
  public void send(HandoffHeader header, FileDescriptor fd) throws IOException {
    writer.send(header, fd);
  }

  /**
   * Sends a connection to a successor app: the header with the descriptor, then the bytes this
   * app read from the client and has not echoed yet, which the successor sends first, then the
   * connection's exported handler state (empty if it has none).
   */
  @Override
  public void sendMigrated(HandoffHeader header, FileDescriptor fd, byte[] pending, byte[] state)
      throws IOException {
    writer.sendMigrated(header, fd, pending, state);
  }

  /**
   * Sends the second phase of a two-phase take-over: for each connection prepared before, a
   * SWITCHED message with its unsent bytes and state, or a DROPPED one, all in as few writes as
   * their bytes take, none with a descriptor.
   */
  @Override
  public void sendSwitch(List<SwitchedConnection> connections) throws IOException {
    writer.sendSwitch(connections, false);
  }

  /**
   * As {@link #sendSwitch}, in SWITCHES messages of up to {@link #MAX_SWITCHES_LENGTH} bytes (a
   * connection with more goes alone, as a SWITCHED message); to a successor that asked for them
   * only.
   */
  @Override
  public void sendSwitches(List<SwitchedConnection> connections) throws IOException {
    writer.sendSwitch(connections, true);
  }

  /**
   * Sends several copies of a two-phase take-over's first phase in one COPIES message, their
   * descriptors riding on it in the order of {@code prepared} (at most {@link #MAX_COPIES}); to a
   * successor that asked for them only.
   */
  @Override
  public void sendCopies(List<HandoffHeader> prepared, List<FileDescriptor> fds)
      throws IOException {
    writer.sendCopies(prepared, fds);
  }

  /** What {@link #receiveAvailable} returns while the next message has not all arrived. */
  public static final ReceivedHandoff INCOMPLETE = new ReceivedHandoff(null, null, -1, null);

  /** Thrown inside polled reading when the next bytes are not there yet; never escapes. */
  private static final class NotYet extends RuntimeException {
    private static final long serialVersionUID = 1L;

    NotYet() {
      super(null, null, false, false);
    }
  }

  private static final NotYet NOT_YET = new NotYet();

  /**
   * Receives the next message if its bytes are already in the link, without ever waiting: for a
   * caller that watches the link's readiness (an event loop) instead of dedicating a thread to it.
   * The link stays in blocking mode; a read is made only when FIONREAD shows bytes queued (or the
   * link's end has been seen), and a read of a blocking socket with bytes queued returns at once.
   * What arrived of a message that is not complete yet (bytes and descriptors) is kept, and the
   * next call goes on from there. Not to be mixed with {@link #receive} on one link while a message
   * is incomplete.
   *
   * @param endSeen whether the link's readiness showed its end or an error (EPOLLRDHUP,
   *     EPOLLERR): then a read returns at once even with nothing queued, so the end is read
   * @return as {@link #receive}, or {@link #INCOMPLETE} if the next message has not all arrived
   * @throws HandoffException as {@link #receive}
   * @throws IOException as {@link #receive}
   */
  public ReceivedHandoff receiveAvailable(boolean endSeen) throws IOException {
    polling = true;
    this.endSeen = endSeen;
    try {
      return receive();
    } finally {
      polling = false;
    }
  }

  /** In polled reading, returns only if a read will not wait; else ends the call as INCOMPLETE. */
  private void awaitBytes() throws IOException {
    if (!polling || queued > 0) {
      return;
    }
    if (queueProbe == null) {
      queueProbe = channel.socket().getInputStream();
    }
    queued = queueProbe.available();
    if (queued <= 0 && !endSeen) {
      throw NOT_YET;
    }
  }

  private int read(ByteBuffer dst) throws IOException {
    awaitBytes();
    int n = channel.read(dst);
    if (n > 0) {
      queued = Math.max(0, queued - n);
    }
    return n;
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
    ReceivedHandoff ahead = batchAhead.poll();
    if (ahead != null) {
      return ahead; // the next copy of a COPIES message already read
    }
    boolean incomplete = false;
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
    } catch (NotYet e) {
      incomplete = true; // polled reading: the rest of the message is still to come
      return INCOMPLETE;
    } catch (HandoffException e) {
      if (!e.reason().resynchronisable()) {
        dropCarry(); // the link ends: nothing after this message will be read
      }
      throw e;
    } finally {
      if (!incomplete) {
        // Only the descriptor inside a returned handoff survives.
        arrived.closeAll();
        stage = 0;
        deciding = false;
        reading = null;
        pendingIn = null;
        stateIn = null;
      }
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
    if (!deciding) {
      plainIn.clear();
      if (!readPlain()) {
        return null;
      }
      deciding = true;
    }
    // A protocol sender's header arrives whole with its descriptor; one that trickles in without
    // one is read until its first four bytes show whether they are the magic.
    while (arrived.isEmpty() && plainIn.position() < 4 && isMagicPrefix(plainIn)) {
      int n = read(plainIn);
      arrived.collect();
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
    arrived.moveTo(carriedFds);
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
      n = read(plainIn);
      arrived.collect();
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
    FileDescriptor fd = arrived.first();
    InetSocketAddress client = JunixsocketInternals.socketAddress(fd, true);
    InetSocketAddress local = JunixsocketInternals.socketAddress(fd, false);
    java.time.Instant now = java.time.Instant.now();
    HandoffHeader header = new HandoffHeader(id, now.getEpochSecond() * 1_000_000L
        + now.getNano() / 1_000, client != null ? client : NO_ADDRESS,
        local != null ? local : NO_ADDRESS);
    return arrived.claim(header, fd, null, null);
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
    // Stages, so that polled reading can stop where the bytes run out and go on from there.
    if (stage == 0) {
      prefix.clear();
      stage = 1;
    }
    if (stage == 1) {
      if ((carry == null || !carry.hasRemaining()) && !readAhead()) {
        return null;
      }
      if (!readFully(prefix, true)) {
        return null;
      }
      prefix.flip();
      int length = HeaderCodec.decodePrefix(prefix);
      body.clear().limit(length - HeaderCodec.PREFIX_LENGTH);
      stage = 2;
    }
    if (stage == 2) {
      readFully(body, false);
      body.flip();
      HandoffHeader.Kind kind = HeaderCodec.kindOf(prefix, body);
      HandoffHeader header = HeaderCodec.decodeBody(body, kind);
      if (kind == HandoffHeader.Kind.TAKEOVER || kind == HandoffHeader.Kind.DROPPED) {
        requireNoDescriptor(header);
        return new ReceivedHandoff(header, null, -1, null);
      }
      if (!header.carriesBytes()) {
        return arrived.claim(header, arrived.exactlyOne(header), null, null);
      }
      if (kind == HandoffHeader.Kind.COPIES) {
        requireCopiesFit(header);
      } else if (kind == HandoffHeader.Kind.SWITCHES) {
        requireSwitchesFit(header);
      }
      reading = header;
      pendingIn = ByteBuffer.allocate((int) header.pendingBytes());
      stateIn = ByteBuffer.allocate((int) header.stateBytes());
      stage = 3;
    }
    readFully(pendingIn, false);
    readFully(stateIn, false);
    if (reading.kind() == HandoffHeader.Kind.SWITCHED) {
      // The descriptor came before, with the PREPARED message of the same id.
      requireNoDescriptor(reading);
      return new ReceivedHandoff(reading, null, -1, pendingIn.array(), stateIn.array());
    }
    if (reading.kind() == HandoffHeader.Kind.COPIES) {
      return copies(reading, pendingIn.flip());
    }
    if (reading.kind() == HandoffHeader.Kind.SWITCHES) {
      if (!arrived.isEmpty()) {
        throw new HandoffException(Reason.BAD_LENGTH, "a SWITCHES message came with "
            + arrived.size() + " descriptors; it carries none");
      }
      return switches(reading, pendingIn.flip());
    }
    return arrived.claim(reading, arrived.exactlyOne(reading), pendingIn.array(),
        stateIn.array());
  }

  /**
   * Refuses a COPIES header whose count or length no sender of this format writes, before its
   * bytes are read: the link cannot be read on past them.
   */
  private static void requireCopiesFit(HandoffHeader header) throws HandoffException {
    long count = header.connectionId();
    if (count < 1 || count > MAX_COPIES || header.stateBytes() != 0
        || header.pendingBytes() < count * HeaderCodec.V1_LENGTH
        || header.pendingBytes() > count * HeaderCodec.MAX_ENCODED_LENGTH) {
      throw new HandoffException(Reason.BAD_LENGTH, "a COPIES message of " + count + " copies in "
          + header.pendingBytes() + " bytes (and " + header.stateBytes() + " of state): at most "
          + MAX_COPIES + " copies of " + HeaderCodec.V1_LENGTH + " to "
          + HeaderCodec.MAX_ENCODED_LENGTH + " bytes each, no state");
    }
  }

  /**
   * The PREPARED headers of a COPIES message, each given its descriptor in order: the first is
   * returned, the others wait in {@link #batchAhead}. All or nothing: if a header is refused or
   * the descriptors are not one per header, every descriptor that came is closed.
   */
  private ReceivedHandoff copies(HandoffHeader batch, ByteBuffer table) throws IOException {
    int count = (int) batch.connectionId();
    List<HandoffHeader> headers = new ArrayList<>(count);
    while (table.hasRemaining()) {
      headers.add(nextOf(batch, table, HandoffHeader.Kind.PREPARED, null));
    }
    requireCount(batch, headers.size());
    List<FileDescriptor> fds = arrived.inOrder(count, batch);
    List<ReceivedHandoff> claimed = new ArrayList<>(count);
    try {
      for (int i = 0; i < count; i++) {
        claimed.add(arrived.claim(headers.get(i), fds.get(i), null, null));
      }
    } catch (HandoffException e) {
      claimed.forEach(ReceivedHandoff::close);
      throw e;
    }
    batchAhead.addAll(claimed.subList(1, count));
    return claimed.get(0);
  }

  /**
   * The SWITCHED and DROPPED messages of a SWITCHES message, each with its unsent bytes and state:
   * the first is returned, the others wait in {@link #batchAhead}. All or nothing.
   */
  private ReceivedHandoff switches(HandoffHeader batch, ByteBuffer table) throws IOException {
    List<ReceivedHandoff> switched = new ArrayList<>((int) batch.connectionId());
    while (table.hasRemaining()) {
      HandoffHeader header = nextOf(batch, table, HandoffHeader.Kind.SWITCHED,
          HandoffHeader.Kind.DROPPED);
      if (header.kind() == HandoffHeader.Kind.DROPPED) {
        switched.add(new ReceivedHandoff(header, null, -1, null));
        continue;
      }
      if (header.pendingBytes() + header.stateBytes() > table.remaining()) {
        throw new HandoffException(Reason.BAD_LENGTH, "a SWITCHES message's " + header + " with "
            + header.pendingBytes() + " unsent bytes and " + header.stateBytes() + " of state"
            + " overruns its " + table.remaining() + " bytes left");
      }
      byte[] unsent = new byte[(int) header.pendingBytes()];
      byte[] state = new byte[(int) header.stateBytes()];
      table.get(unsent).get(state);
      switched.add(new ReceivedHandoff(header, null, -1, unsent, state));
    }
    requireCount(batch, switched.size());
    batchAhead.addAll(switched.subList(1, switched.size()));
    return switched.get(0);
  }

  /**
   * The next header of a batch's table (the headers of a COPIES or SWITCHES message), which must be
   * of kind {@code one} or {@code other}; the table's position moves past it.
   */
  private static HandoffHeader nextOf(HandoffHeader batch, ByteBuffer table,
      HandoffHeader.Kind one, HandoffHeader.Kind other) throws HandoffException {
    if (table.remaining() < HeaderCodec.PREFIX_LENGTH) {
      throw new HandoffException(Reason.BAD_LENGTH, "a " + batch.kind() + " message's headers"
          + " end in " + table.remaining() + " stray bytes");
    }
    ByteBuffer prefix = table.slice(table.position(), HeaderCodec.PREFIX_LENGTH);
    int length = HeaderCodec.decodePrefix(prefix);
    if (length > table.remaining()) {
      throw new HandoffException(Reason.BAD_LENGTH, "a " + batch.kind() + " message's header of "
          + length + " bytes overruns its " + table.remaining() + " bytes left");
    }
    ByteBuffer body = table.slice(table.position() + HeaderCodec.PREFIX_LENGTH,
        length - HeaderCodec.PREFIX_LENGTH);
    table.position(table.position() + length);
    HandoffHeader.Kind kind = HeaderCodec.kindOf(prefix.rewind(), body);
    if (kind != one && kind != other) {
      throw new HandoffException(Reason.BAD_LENGTH, "a " + batch.kind() + " message holds a "
          + kind + " header; it holds only " + one + (other == null ? "" : " and " + other)
          + " ones");
    }
    return HeaderCodec.decodeBody(body, kind);
  }

  /** Refuses a batch that holds another number of messages than its header announced. */
  private static void requireCount(HandoffHeader batch, int held) throws HandoffException {
    if (held != batch.connectionId()) {
      throw new HandoffException(Reason.BAD_LENGTH, "a " + batch.kind() + " message announced "
          + batch.connectionId() + " and holds " + held);
    }
  }

  /**
   * Refuses a SWITCHES header whose count or length no sender of this format writes, before its
   * bytes are read.
   */
  private static void requireSwitchesFit(HandoffHeader header) throws HandoffException {
    long count = header.connectionId();
    if (count < 1 || count > MAX_SWITCHES_LENGTH / HeaderCodec.V1_LENGTH
        || header.stateBytes() != 0 || header.pendingBytes() < count * HeaderCodec.V1_LENGTH
        || header.pendingBytes() > MAX_SWITCHES_LENGTH) {
      throw new HandoffException(Reason.BAD_LENGTH, "a SWITCHES message of " + count
          + " connections in " + header.pendingBytes() + " bytes (and " + header.stateBytes()
          + " of state): at least one of at least " + HeaderCodec.V1_LENGTH + " bytes each, at"
          + " most " + MAX_SWITCHES_LENGTH + " bytes in all, no state");
    }
  }

  /**
   * Whether {@link #receive} will return a message without reading the link: the rest of a COPIES
   * or SWITCHES message already read.
   */
  @Override
  public boolean messageWaiting() {
    return !batchAhead.isEmpty();
  }

  /** For a message that travels without a descriptor: refuses it if one came (and closes it). */
  private void requireNoDescriptor(HandoffHeader header) throws HandoffException {
    if (!arrived.isEmpty()) {
      throw new HandoffException(Reason.EXTRA_DESCRIPTORS, header.connectionId(),
          "a " + header.kind() + " message came with " + arrived.size() + " descriptors");
    }
  }

  /**
   * One read of up to {@link HeaderCodec#MAX_ENCODED_LENGTH} bytes into {@link #carry}, where the
   * header reader finds them: one recvmsg for a whole header instead of one for its prefix and one
   * for the rest. A read never goes past the segment that carried descriptors (the kernel ends it
   * there), so the descriptors read belong to the message that the carried bytes end in, which is
   * where {@link #readFully} hands them over, as for the first read of a link.
   *
   * @return false if the link ended before any byte of a message
   */
  private boolean readAhead() throws IOException {
    ahead.clear();
    int n = read(ahead);
    arrived.collect();
    if (n < 0) {
      return false;
    }
    ahead.flip();
    carry = ahead;
    arrived.moveTo(carriedFds);
    return true;
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
    writer.writeAck(ack);
  }

  /**
   * Sends several answers in one write (as few writes as the batch takes); on a plain link,
   * nothing. Safe to call from two threads, and together with {@link #sendAck}.
   */
  @Override
  public synchronized void sendAcks(List<Acknowledgement> acks) throws IOException {
    if (mode == Mode.PLAIN || acks.isEmpty()) {
      return;
    }
    writer.writeAcks(acks);
  }

  /**
   * Receives the next acknowledgement. Descriptors cannot arrive this way: the proxy's side has no
   * ancillary buffer, so the kernel discards any an app attaches. On a link connected without
   * taking handoffs, one read takes every acknowledgement queued (up to 64), and the next calls
   * return them without reading.
   *
   * @return the acknowledgement, or {@code null} if the app closed the link between messages
   * @throws HandoffException if the bytes are not an acknowledgement: the link lost framing
   */
  @Override
  public Acknowledgement receiveAck() throws IOException {
    if (ackBatch != null) {
      return receiveBatchedAck();
    }
    try {
      ackIn.clear();
      if (!readFully(ackIn, true)) {
        return null;
      }
      ackIn.flip();
      return AckCodec.decode(ackIn);
    } finally {
      arrived.closeAll();
    }
  }

  private Acknowledgement receiveBatchedAck() throws IOException {
    try {
      while (ackBatch.remaining() < AckCodec.LENGTH) {
        int had = ackBatch.remaining();
        ackBatch.compact();
        int n = channel.read(ackBatch);
        arrived.collect();
        ackBatch.flip();
        if (n < 0) {
          if (had == 0) {
            return null;
          }
          throw new HandoffException(Reason.TRUNCATED, "link from " + peer + " closed after "
              + had + " of " + AckCodec.LENGTH + " bytes of a message");
        }
      }
      int at = ackBatch.position();
      ackBatch.position(at + AckCodec.LENGTH); // one acknowledgement consumed, whatever it says
      return AckCodec.decode(ackBatch.duplicate().position(at).limit(at + AckCodec.LENGTH));
    } finally {
      arrived.closeAll();
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

  /**
   * The number of the descriptor this side reads through, for watching its readiness (an event
   * loop's epoll set); it stays this channel's, closed by {@link #close()} only.
   *
   * @return the number, or -1 if the link is closed
   */
  public int readDescriptorNumber() throws IOException {
    return Descriptors.number(channel.getFileDescriptor());
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
      for (ReceivedHandoff copy; (copy = batchAhead.poll()) != null; ) {
        copy.close();
      }
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
        arrived.takeBack(carriedFds);
        carry = null;
      }
    }
    while (dst.hasRemaining()) {
      int n = read(dst);
      arrived.collect();
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
}
