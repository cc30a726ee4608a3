package dev.handoff.common;

import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * The writing half of a {@link HandoffChannel}: handoffs (with their descriptor), migrated
 * connections, plain handoffs and answers, each written whole.
 *
 * <p>Writes go through a channel on a duplicate of the link's descriptor, because junixsocket
 * closes a channel whose write fails with a broken pipe: with one channel, a peer that stopped
 * reading (a proxy that gave up on this app, an app that stopped taking handoffs) would take with
 * it every message and answer still queued for reading, descriptors included. Closing the cast
 * channel leaves the duplicate open; {@link #close()} closes both.
 *
 * <p>Descriptors: a descriptor given to a send is never closed here; the caller may close its
 * copy once the send returns.
 */
final class LinkWriter {
  private final AFUNIXSocketChannel writer;
  private final FileDescriptor writerFd;
  private final String peer;
  private final ByteBuffer out = ByteBuffer.allocateDirect(HeaderCodec.MAX_ENCODED_LENGTH);
  private final ByteBuffer ackOut = ByteBuffer.allocateDirect(AckCodec.LENGTH);
  /** Several answers written at once by {@link #writeAcks}. */
  private final ByteBuffer acksOut =
      ByteBuffer.allocateDirect(HandoffChannel.ACK_BATCH * AckCodec.LENGTH);

  /**
   * A writer on a duplicate of {@code channel}'s descriptor; {@code channel} stays the caller's,
   * also if this throws.
   */
  LinkWriter(AFUNIXSocketChannel channel, String peer) throws IOException {
    this.peer = peer;
    FileDescriptorCast duplicate;
    try {
      duplicate = FileDescriptorCast.duplicating(channel.getFileDescriptor());
    } catch (IOException | RuntimeException e) {
      throw new IOException("duplicate the link to " + peer + ": " + Errors.describe(e), e);
    }
    this.writerFd = duplicate.getFileDescriptor();
    try {
      this.writer = duplicate.as(AFUNIXSocketChannel.class);
    } catch (IOException | RuntimeException e) {
      Descriptors.close(writerFd);
      throw new IOException("duplicate the link to " + peer + ": " + Errors.describe(e), e);
    }
  }

  /** One byte of payload (a zero) with the descriptor attached, as Go's WriteMsgUnix does. */
  void sendPlain(FileDescriptor fd) throws IOException {
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

  /** The encoded header with {@code fd} attached to its first bytes. */
  void send(HandoffHeader header, FileDescriptor fd) throws IOException {
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

  /** The header, then the client's unsent bytes, then the handler's exported state. */
  void sendMigrated(HandoffHeader header, FileDescriptor fd, byte[] pending, byte[] state)
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
   * SWITCHED and DROPPED messages, gathered into buffers of at least {@link #SWITCH_CHUNK} bytes
   * (a connection with more bytes than that gets a buffer of its own), each written whole; with
   * {@code batched}, each buffer is a SWITCHES message (its header first), and a connection with
   * more bytes than one holds goes alone, as a SWITCHED message.
   */
  void sendSwitch(List<SwitchedConnection> connections, boolean batched) throws IOException {
    int head = batched ? HeaderCodec.MIGRATED_LENGTH : 0;
    ByteBuffer chunk = null;
    int inChunk = 0;
    int sent = 0;
    try {
      for (SwitchedConnection c : connections) {
        HandoffHeader header = c.header();
        int length = HeaderCodec.encodedLength(header) + c.pending().length + c.state().length;
        if (chunk != null && chunk.remaining() < length) {
          writeChunk(chunk, inChunk, head);
          chunk = null;
        }
        if (chunk == null) {
          chunk = ByteBuffer.allocateDirect(Math.max(SWITCH_CHUNK, length + head));
          chunk.position(head);
          inChunk = 0;
        }
        HeaderCodec.encode(header, chunk);
        chunk.put(c.pending()).put(c.state());
        inChunk++;
        sent++;
        if (batched && length > SWITCH_CHUNK - head) {
          // More than a SWITCHES message holds: alone, without the batch's header.
          writeWhole(chunk.flip().position(head));
          chunk = null;
        }
      }
      if (chunk != null) {
        writeChunk(chunk, inChunk, head);
      }
    } catch (IOException e) {
      throw new IOException("send the switch of " + connections.size() + " connections to "
          + peer + " (" + sent + " encoded): " + Errors.describe(e), e);
    }
  }

  /** Writes a chunk of switch messages, with a SWITCHES header for them first if it has room. */
  private void writeChunk(ByteBuffer chunk, int count, int head) throws IOException {
    if (head > 0) {
      java.net.InetSocketAddress none = new java.net.InetSocketAddress(0);
      HeaderCodec.encode(new HandoffHeader(count, 0, none, none, HandoffHeader.Kind.SWITCHES,
          chunk.position() - head, 0), chunk.duplicate().position(0));
    }
    writeWhole(chunk.flip());
  }

  /**
   * The most bytes {@link #sendSwitch} gathers into one write, unless one message is longer; the
   * most a SWITCHES message holds, its header included.
   */
  static final int SWITCH_CHUNK = HandoffChannel.MAX_SWITCHES_LENGTH;

  /**
   * One COPIES message: its header, then the copies' PREPARED headers one after the other, in one
   * write with every descriptor attached, in the headers' order.
   */
  void sendCopies(List<HandoffHeader> prepared, List<FileDescriptor> fds) throws IOException {
    if (prepared.isEmpty() || prepared.size() != fds.size()
        || prepared.size() > HandoffChannel.MAX_COPIES) {
      throw new IllegalArgumentException(prepared.size() + " copies with " + fds.size()
          + " descriptors: 1 to " + HandoffChannel.MAX_COPIES + ", one each");
    }
    int table = 0;
    for (HandoffHeader h : prepared) {
      table += HeaderCodec.encodedLength(h);
    }
    java.net.InetSocketAddress none = new java.net.InetSocketAddress(0);
    HandoffHeader batch = new HandoffHeader(prepared.size(), 0, none, none,
        HandoffHeader.Kind.COPIES, table, 0);
    ByteBuffer bytes = ByteBuffer.allocateDirect(HeaderCodec.encodedLength(batch) + table);
    HeaderCodec.encode(batch, bytes);
    for (HandoffHeader h : prepared) {
      HeaderCodec.encode(h, bytes);
    }
    bytes.flip();
    try {
      writer.setOutboundFileDescriptors(fds.toArray(FileDescriptor[]::new));
      writer.write(bytes);
      // The descriptors left with the first bytes; never attach them twice.
      writer.setOutboundFileDescriptors();
      writeWhole(bytes);
    } catch (IOException e) {
      writer.setOutboundFileDescriptors();
      throw new IOException("send " + prepared.size() + " copies (" + prepared.get(0) + " and on)"
          + " to " + peer + ": " + Errors.describe(e), e);
    }
  }

  private void writeWhole(ByteBuffer bytes) throws IOException {
    while (bytes.hasRemaining()) {
      writer.write(bytes);
    }
  }

  /** One answer. */
  void writeAck(Acknowledgement ack) throws IOException {
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

  /** Several answers, {@link HandoffChannel#ACK_BATCH} to a write. */
  void writeAcks(List<Acknowledgement> acks) throws IOException {
    for (int from = 0; from < acks.size(); from += HandoffChannel.ACK_BATCH) {
      acksOut.clear();
      int to = Math.min(acks.size(), from + HandoffChannel.ACK_BATCH);
      for (int i = from; i < to; i++) {
        AckCodec.encode(acks.get(i), acksOut);
      }
      acksOut.flip();
      try {
        while (acksOut.hasRemaining()) {
          writer.write(acksOut);
        }
      } catch (IOException e) {
        throw new IOException("acknowledge c" + acks.get(from).connectionId() + " and "
            + (acks.size() - from - 1) + " more to " + peer + ": " + Errors.describe(e), e);
      }
    }
  }

  /** Closes the writing channel and the duplicate it writes through. */
  void close() throws IOException {
    try {
      writer.close();
    } finally {
      Descriptors.close(writerFd);
    }
  }
}
