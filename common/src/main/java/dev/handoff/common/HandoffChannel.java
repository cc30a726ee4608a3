package dev.handoff.common;

import dev.handoff.common.HandoffException.Reason;
import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.newsclub.net.unix.FileDescriptorCast;

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
 */
public final class HandoffChannel implements HandoffLink {
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
  private final ByteBuffer out = ByteBuffer.allocateDirect(HeaderCodec.MIGRATED_LENGTH);
  private final ByteBuffer prefix = ByteBuffer.allocateDirect(HeaderCodec.PREFIX_LENGTH);
  private final ByteBuffer body = ByteBuffer.allocateDirect(HeaderCodec.MAX_LENGTH);
  private final ByteBuffer ackOut = ByteBuffer.allocateDirect(AckCodec.LENGTH);
  private final ByteBuffer ackIn = ByteBuffer.allocateDirect(AckCodec.LENGTH);
  private final List<FileDescriptor> arrived = new ArrayList<>(2);

  /** Takes ownership of {@code channel}: if this throws, it has closed it. */
  private HandoffChannel(AFUNIXSocketChannel channel, String peer) throws IOException {
    this.channel = channel;
    this.peer = peer;
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
      return new HandoffChannel(channel, socket.toString());
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
    // Room for every descriptor one message can carry, so that all of them can be closed.
    JunixsocketInternals.setFullAncillaryReceiveBuffer(channel);
    return new HandoffChannel(channel, peer);
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
    } finally {
      // Only the duplicate inside a returned handoff survives.
      closeArrived();
    }
  }

  private void closeArrived() {
    for (FileDescriptor fd : arrived) {
      Descriptors.close(fd);
    }
    arrived.clear();
  }

  /** Sends the app's answer to one handoff. Safe to call from two threads. */
  @Override
  public synchronized void sendAck(Acknowledgement ack) throws IOException {
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
      channel.close();
    }
  }

  private boolean readFully(ByteBuffer dst, boolean eofAllowedAtStart) throws IOException {
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
