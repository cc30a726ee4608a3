package dev.handoff.common;

import dev.handoff.common.HandoffException.Reason;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;

/**
 * Encodes and decodes the handoff header (layout in docs/PROTOCOL.md). All integers are
 * big-endian.
 *
 * <p>A message is read in two steps so that a reader never consumes bytes of the next message (and
 * with them the next message's descriptor): first the fixed {@link #PREFIX_LENGTH}-byte prefix,
 * which gives the total length, then the rest.
 */
public final class HeaderCodec {
  /** "HOFF" in ASCII. */
  public static final int MAGIC = 0x484F4646;
  /** Version 2 added acknowledgements ({@link AckCodec}); the header layout is that of 1. */
  public static final int VERSION = 2;
  /** magic (4), version (1), flags (1), header length (2). */
  public static final int PREFIX_LENGTH = 8;
  /** The length of the header's known fields; a longer one carries fields this version skips. */
  public static final int V1_LENGTH = 64;
  /** No header may be longer, so a hostile length cannot make the reader allocate. */
  public static final int MAX_LENGTH = 1024;

  private static final int ADDRESS_FIELD = 16;

  private HeaderCodec() {}

  /** A MIGRATED header carries one more field: the count of unsent bytes that follow it. */
  public static final int MIGRATED_LENGTH = V1_LENGTH + 16;
  /** A MIGRATED header of the first revision: unsent bytes only, no handler state. */
  public static final int MIGRATED_V1_LENGTH = V1_LENGTH + 8;
  /** At most this many unsent bytes may follow a MIGRATED header. */
  public static final long MAX_PENDING = 64L << 20;
  /** The most handler state one migrated connection may carry. */
  public static final long MAX_STATE = 1L << 20;

  /**
   * Writes the header at the buffer's position; the buffer must have {@link #MIGRATED_LENGTH}
   * bytes left.
   */
  public static void encode(HandoffHeader header, ByteBuffer dst) {
    boolean migrated = header.kind() == HandoffHeader.Kind.MIGRATED;
    dst.putInt(MAGIC)
        .put((byte) VERSION)
        .put((byte) header.kind().flag)
        .putShort((short) (migrated ? MIGRATED_LENGTH : V1_LENGTH))
        .putLong(header.connectionId())
        .putLong(header.acceptedAtMicros())
        .put(family(header.client()))
        .put(family(header.local()))
        .putShort((short) header.client().getPort())
        .putShort((short) header.local().getPort())
        .putShort((short) 0);
    putAddress(dst, header.client());
    putAddress(dst, header.local());
    if (migrated) {
      dst.putLong(header.pendingBytes());
      dst.putLong(header.stateBytes());
    }
  }

  /**
   * The kind named by a validated prefix's flags byte.
   *
   * @param body the rest of the header, read whole: an unknown kind is refused with the message's
   *     connection id, and the link can go on with the next message
   */
  public static HandoffHeader.Kind kindOf(ByteBuffer prefix, ByteBuffer body)
      throws HandoffException {
    int flags = prefix.get(5) & 0xff;
    for (HandoffHeader.Kind kind : HandoffHeader.Kind.values()) {
      if (kind.flag == flags) {
        return kind;
      }
    }
    long id = body.remaining() >= 8 ? body.getLong(body.position())
        : HandoffException.UNKNOWN_CONNECTION;
    throw new HandoffException(Reason.UNKNOWN_KIND, id,
        "unknown message kind (flags 0x" + Integer.toHexString(flags) + ")");
  }

  /**
   * Validates the prefix and returns the header's total length.
   *
   * @param prefix exactly {@link #PREFIX_LENGTH} bytes, position at the start
   */
  public static int decodePrefix(ByteBuffer prefix) throws HandoffException {
    int magic = prefix.getInt();
    if (magic != MAGIC) {
      throw new HandoffException(Reason.BAD_MAGIC,
          String.format("bad magic 0x%08x (expected 0x%08x)", magic, MAGIC));
    }
    int version = prefix.get() & 0xff;
    if (version != VERSION) {
      throw new HandoffException(Reason.BAD_VERSION,
          "unsupported protocol version " + version + " (this side speaks " + VERSION + ")");
    }
    prefix.get(); // flags: see kindOf
    int length = prefix.getShort() & 0xffff;
    if (length < V1_LENGTH || length > MAX_LENGTH) {
      throw new HandoffException(Reason.BAD_LENGTH,
          "header length " + length + " outside " + V1_LENGTH + ".." + MAX_LENGTH);
    }
    return length;
  }

  /**
   * Decodes the part after the prefix. Bytes past the version 1 fields are skipped.
   *
   * @param body the header's remaining {@code length - PREFIX_LENGTH} bytes
   */
  public static HandoffHeader decodeBody(ByteBuffer body) throws HandoffException {
    return decodeBody(body, HandoffHeader.Kind.CONNECTION);
  }

  /** As {@link #decodeBody(ByteBuffer)}, for a message of the given kind. */
  public static HandoffHeader decodeBody(ByteBuffer body, HandoffHeader.Kind kind)
      throws HandoffException {
    long id = body.getLong();
    long acceptedAt = body.getLong();
    int clientFamily = body.get();
    int localFamily = body.get();
    int clientPort = body.getShort() & 0xffff;
    int localPort = body.getShort() & 0xffff;
    body.getShort(); // reserved
    InetAddress client;
    InetAddress local;
    try {
      client = getAddress(body, clientFamily, "client");
      local = getAddress(body, localFamily, "local");
    } catch (HandoffException e) {
      throw new HandoffException(e.reason(), id, "c" + id + ": " + e.getMessage());
    }
    long pending = 0;
    long state = 0;
    if (kind == HandoffHeader.Kind.MIGRATED) {
      if (body.remaining() < 8) {
        throw new HandoffException(Reason.BAD_LENGTH, "c" + id + ": a MIGRATED header needs "
            + MIGRATED_V1_LENGTH + " bytes");
      }
      pending = body.getLong();
      if (pending < 0 || pending > MAX_PENDING) {
        throw new HandoffException(Reason.BAD_LENGTH, "c" + id + ": " + pending
            + " unsent bytes announced, more than " + MAX_PENDING);
      }
      if (body.remaining() >= 8) { // absent from the first revision's 72-byte header
        state = body.getLong();
        if (state < 0 || state > MAX_STATE) {
          throw new HandoffException(Reason.BAD_LENGTH, "c" + id + ": " + state
              + " bytes of handler state announced, more than " + MAX_STATE);
        }
      }
    }
    return new HandoffHeader(id, acceptedAt, new InetSocketAddress(client, clientPort),
        new InetSocketAddress(local, localPort), kind, pending, state);
  }

  private static byte family(InetSocketAddress address) {
    if (address.getAddress() == null) {
      throw new IllegalArgumentException("unresolved address " + address);
    }
    return (byte) (address.getAddress() instanceof Inet4Address ? 4 : 6);
  }

  private static void putAddress(ByteBuffer dst, InetSocketAddress address) {
    byte[] raw = address.getAddress().getAddress();
    dst.put(raw);
    for (int i = raw.length; i < ADDRESS_FIELD; i++) {
      dst.put((byte) 0);
    }
  }

  private static InetAddress getAddress(ByteBuffer body, int family, String which)
      throws HandoffException {
    byte[] raw = new byte[ADDRESS_FIELD];
    body.get(raw);
    int size;
    if (family == 4) {
      size = 4;
    } else if (family == 6) {
      size = 16;
    } else {
      throw new HandoffException(Reason.BAD_ADDRESS,
          "unknown " + which + " address family " + family + " (expected 4 or 6)");
    }
    try {
      return InetAddress.getByAddress(size == 16 ? raw : java.util.Arrays.copyOf(raw, 4));
    } catch (UnknownHostException e) {
      throw new HandoffException(Reason.BAD_ADDRESS, which + " address: " + e.getMessage());
    }
  }
}
