package dev.handoff.proxy.upgrade;

import dev.handoff.common.Closeables;
import dev.handoff.common.Descriptors;
import dev.handoff.common.Errors;
import dev.handoff.common.internal.JunixsocketInternals;
import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * One end of a control link between a running proxy and the proxy taking over from it
 * (docs/PROTOCOL.md, "Upgrading the proxy"): 16-byte messages, each LISTENER one with a listening
 * socket's descriptor attached as SCM_RIGHTS.
 *
 * <p>Descriptors: {@link #send} never closes the descriptor it is given. A descriptor that arrives
 * is duplicated away from this link (junixsocket closes, with the link, every descriptor it
 * received) and the copy is handed to the caller in {@link Message#fd}, which then owns it; every
 * other descriptor that arrives is closed before {@link #receive} returns or throws.
 */
final class ControlLink implements Closeable {
  static final int MAGIC = 0x48505843; // "HPXC"
  static final int VERSION = 1;
  static final int LENGTH = 16;

  /** The message types. */
  enum Type {
    /** new to old: "take over from you"; value: the new proxy's pid. */
    HELLO(1),
    /**
     * old to new: a listening socket, attached, one message per socket; value: its local port,
     * with how many there are and which this is when several ({@link ListenerValue}).
     */
    LISTENER(2),
    /** new to old: "I accept on it now"; value: the new proxy's pid. */
    ACCEPTING(3),
    /** old to new: "I no longer accept and hold no connection"; value: 0. */
    DONE(4),
    /** new to old: "heard DONE: the port is mine alone, exit"; value: the new proxy's pid. */
    RELEASE(5);

    final int code;

    Type(int code) {
      this.code = code;
    }

    static Type of(int code) {
      for (Type t : values()) {
        if (t.code == code) {
          return t;
        }
      }
      return null;
    }
  }

  /** A message received; {@code fd}, if not null, belongs to the receiver. */
  record Message(Type type, long value, FileDescriptor fd) {}

  private final AFUNIXSocketChannel channel;
  private final String peer;
  private final ByteBuffer in = ByteBuffer.allocate(LENGTH);
  private final ByteBuffer out = ByteBuffer.allocate(LENGTH);
  private final List<FileDescriptor> arrived = new ArrayList<>(1);

  private ControlLink(AFUNIXSocketChannel channel, String peer) {
    this.channel = channel;
    this.peer = peer;
  }

  /** Connects to the running proxy's control socket, as the proxy taking over does. */
  static ControlLink connect(Path path) throws IOException {
    AFUNIXSocketChannel channel = AFUNIXSocketChannel.open();
    try {
      channel.connect(AFUNIXSocketAddress.of(path));
      JunixsocketInternals.setFullAncillaryReceiveBuffer(channel);
      return new ControlLink(channel, path.toString());
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw new IOException("connect to " + path + ": " + Errors.describe(e), e);
    }
  }

  /** Wraps an accepted link, which this object then owns. */
  static ControlLink accepted(AFUNIXSocketChannel channel, String peer) throws IOException {
    try {
      JunixsocketInternals.setFullAncillaryReceiveBuffer(channel);
    } catch (RuntimeException e) {
      channel.close();
      throw e;
    }
    return new ControlLink(channel, peer);
  }

  AFUNIXSocketChannel channel() {
    return channel;
  }

  String peer() {
    return peer;
  }

  /** Sends one message, with {@code fd} attached if not null (it stays the caller's). */
  synchronized void send(Type type, long value, FileDescriptor fd) throws IOException {
    out.clear().putInt(MAGIC).put((byte) VERSION).put((byte) type.code).putShort((short) LENGTH)
        .putLong(value).flip();
    try {
      if (fd != null) {
        channel.setOutboundFileDescriptors(fd);
      }
      channel.write(out);
      channel.setOutboundFileDescriptors();
      while (out.hasRemaining()) {
        channel.write(out);
      }
    } catch (IOException e) {
      channel.setOutboundFileDescriptors();
      throw new IOException("send " + type + " to " + peer + ": " + Errors.describe(e), e);
    }
  }

  /**
   * Receives the next message.
   *
   * @return the message, or {@code null} at the end of the link (between messages)
   * @throws IOException if the link failed, or the bytes are not a control message of this
   *     version (the link is then useless; the caller closes it)
   */
  Message receive() throws IOException {
    try {
      in.clear();
      while (in.hasRemaining()) {
        int n = channel.read(in);
        collect();
        if (n < 0) {
          if (in.position() == 0) {
            return null;
          }
          throw new IOException("control link " + peer + " closed after " + in.position()
              + " bytes of a message");
        }
      }
      in.flip();
      int magic = in.getInt();
      int version = in.get() & 0xff;
      int code = in.get() & 0xff;
      int length = in.getShort() & 0xffff;
      long value = in.getLong();
      if (magic != MAGIC || version != VERSION || length != LENGTH) {
        throw new IOException(String.format("control link %s: not a control message of version %d"
            + " (magic %08x, version %d, length %d)", peer, VERSION, magic, version, length));
      }
      Type type = Type.of(code);
      if (type == null) {
        throw new IOException("control link " + peer + ": unknown message type " + code);
      }
      FileDescriptor fd = null;
      if (type == Type.LISTENER) {
        if (arrived.size() != 1) {
          throw new IOException("control link " + peer + ": LISTENER came with "
              + arrived.size() + " descriptors (expected 1)");
        }
        fd = FileDescriptorCast.duplicating(arrived.get(0)).getFileDescriptor();
      } else if (!arrived.isEmpty()) {
        throw new IOException("control link " + peer + ": " + type + " came with "
            + arrived.size() + " descriptors (expected none)");
      }
      return new Message(type, value, fd);
    } finally {
      for (FileDescriptor fd : arrived) {
        Descriptors.close(fd);
      }
      arrived.clear();
    }
  }

  private void collect() throws IOException {
    FileDescriptor[] fds = channel.getReceivedFileDescriptors();
    if (fds != null) {
      arrived.addAll(List.of(fds));
    }
  }

  @Override
  public void close() {
    Closeables.closeQuietly(channel);
  }
}
