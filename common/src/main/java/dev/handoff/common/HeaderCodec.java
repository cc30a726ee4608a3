package dev.handoff.common;

import dev.handoff.common.HandoffException.Reason;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

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

  /** Extension: the original client's family (4 or 6), a zero byte, port, 16-byte address. */
  public static final int EXT_ORIGIN = 1;
  /** Extension: the original client's requested server name, UTF-8. */
  public static final int EXT_AUTHORITY = 2;
  /** Extension: the load balancer's unique id of the connection. */
  public static final int EXT_UNIQUE_ID = 3;
  /** The longest authority an {@link #EXT_AUTHORITY} extension carries. */
  public static final int MAX_AUTHORITY = 255;
  /** The longest unique id an {@link #EXT_UNIQUE_ID} extension carries. */
  public static final int MAX_UNIQUE_ID = 128;
  /** Type (1) and length (2) before each extension's value. */
  private static final int EXT_HEADER = 3;
  private static final int ORIGIN_VALUE = 20;
  /** The longest header {@link #encode} writes: a MIGRATED one with every extension. */
  public static final int MAX_ENCODED_LENGTH = MIGRATED_LENGTH + EXT_HEADER + ORIGIN_VALUE
      + EXT_HEADER + MAX_AUTHORITY + EXT_HEADER + MAX_UNIQUE_ID;

  /** How many bytes {@link #encode} writes for this header. */
  public static int encodedLength(HandoffHeader header) {
    int length = header.carriesBytes() ? MIGRATED_LENGTH : V1_LENGTH;
    OriginalClient origin = header.origin();
    if (origin != null) {
      length += EXT_HEADER + ORIGIN_VALUE;
      if (origin.authority() != null) {
        length += EXT_HEADER + origin.authority().getBytes(StandardCharsets.UTF_8).length;
      }
      if (origin.uniqueId() != null) {
        length += EXT_HEADER + origin.uniqueId().length;
      }
    }
    return length;
  }

  /**
   * Writes the header at the buffer's position; the buffer must have {@link #encodedLength} bytes
   * left ({@link #MIGRATED_LENGTH} for a header without an original client, at most
   * {@link #MAX_ENCODED_LENGTH}).
   */
  public static void encode(HandoffHeader header, ByteBuffer dst) {
    boolean migrated = header.carriesBytes();
    dst.putInt(MAGIC)
        .put((byte) VERSION)
        .put((byte) header.kind().flag)
        .putShort((short) (header.origin() == null
            ? (migrated ? MIGRATED_LENGTH : V1_LENGTH) : encodedLength(header)))
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
    OriginalClient origin = header.origin();
    if (origin != null) {
      dst.put((byte) EXT_ORIGIN).putShort((short) ORIGIN_VALUE)
          .put(family(origin.address())).put((byte) 0)
          .putShort((short) origin.address().getPort());
      putAddress(dst, origin.address());
      if (origin.authority() != null) {
        byte[] name = origin.authority().getBytes(StandardCharsets.UTF_8);
        dst.put((byte) EXT_AUTHORITY).putShort((short) name.length).put(name);
      }
      if (origin.uniqueId() != null) {
        dst.put((byte) EXT_UNIQUE_ID).putShort((short) origin.uniqueId().length)
            .put(origin.uniqueId());
      }
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
   * Decodes the part after the prefix. After the fields of its kind come extensions (type, length,
   * value); those of unknown types are skipped, so that a longer header from a newer sender reads.
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
    if (kind == HandoffHeader.Kind.MIGRATED || kind == HandoffHeader.Kind.SWITCHED
        || kind == HandoffHeader.Kind.COPIES || kind == HandoffHeader.Kind.SWITCHES) {
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
    OriginalClient origin = decodeExtensions(body, id);
    return new HandoffHeader(id, acceptedAt, new InetSocketAddress(client, clientPort),
        new InetSocketAddress(local, localPort), kind, pending, state, origin);
  }

  /**
   * The extensions in the rest of the body. One of an unknown type is skipped; bytes that do not
   * make a whole extension end the list and are skipped, as the bytes past the known fields always
   * were; a known one with a wrong length or family is refused as a bad address: the header was
   * read whole, so the link goes on with the next message.
   */
  private static OriginalClient decodeExtensions(ByteBuffer body, long id)
      throws HandoffException {
    InetSocketAddress address = null;
    String authority = null;
    byte[] uniqueId = null;
    while (body.remaining() >= EXT_HEADER) {
      int type = body.get(body.position()) & 0xff;
      int length = body.getShort(body.position() + 1) & 0xffff;
      if (length > body.remaining() - EXT_HEADER) {
        break; // not an extension: bytes of a sender before extensions existed, skipped as ever
      }
      body.position(body.position() + EXT_HEADER);
      ByteBuffer value = body.slice(body.position(), length);
      body.position(body.position() + length);
      switch (type) {
        case EXT_ORIGIN -> {
          if (length != ORIGIN_VALUE) {
            throw new HandoffException(Reason.BAD_ADDRESS, id, "c" + id + ": original client of "
                + length + " bytes (expected " + ORIGIN_VALUE + ")");
          }
          int family = value.get();
          value.get();
          int port = value.getShort() & 0xffff;
          try {
            address = new InetSocketAddress(getAddress(value, family, "original client"), port);
          } catch (HandoffException e) {
            throw new HandoffException(e.reason(), id, "c" + id + ": " + e.getMessage());
          }
        }
        case EXT_AUTHORITY -> {
          if (length == 0 || length > MAX_AUTHORITY) {
            throw new HandoffException(Reason.BAD_ADDRESS, id, "c" + id + ": authority of "
                + length + " bytes");
          }
          byte[] raw = new byte[length];
          value.get(raw);
          authority = new String(raw, StandardCharsets.UTF_8);
        }
        case EXT_UNIQUE_ID -> {
          if (length == 0 || length > MAX_UNIQUE_ID) {
            throw new HandoffException(Reason.BAD_ADDRESS, id, "c" + id + ": unique id of "
                + length + " bytes");
          }
          uniqueId = new byte[length];
          value.get(uniqueId);
        }
        default -> {
          // a newer sender's extension: skipped
        }
      }
    }
    if (address == null) {
      return null; // the name and id travel only with the address they describe
    }
    if (authority != null && authority.getBytes(StandardCharsets.UTF_8).length > MAX_AUTHORITY) {
      authority = null; // invalid UTF-8 replaced by longer characters: not a name
    }
    return new OriginalClient(address, authority, uniqueId);
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
