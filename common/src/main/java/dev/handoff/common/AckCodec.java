package dev.handoff.common;

import dev.handoff.common.HandoffException.Reason;
import java.nio.ByteBuffer;

/**
 * Encodes and decodes acknowledgements (protocol version 2, layout in docs/PROTOCOL.md): 16 bytes,
 * big-endian, never with a descriptor.
 */
public final class AckCodec {
  /** "HACK" in ASCII. */
  public static final int MAGIC = 0x4841434B;
  public static final int LENGTH = 16;

  private AckCodec() {}

  public static void encode(Acknowledgement ack, ByteBuffer dst) {
    dst.putInt(MAGIC)
        .put((byte) HeaderCodec.VERSION)
        .put((byte) ack.status().ordinal())
        .putShort((short) LENGTH)
        .putLong(ack.connectionId());
  }

  /**
   * Decodes exactly {@link #LENGTH} bytes. A bad magic, version or length means the link lost
   * framing; an unknown status in an otherwise whole acknowledgement is reported as
   * {@link Reason#UNKNOWN_STATUS} with the connection id, and the stream is still in sync.
   */
  public static Acknowledgement decode(ByteBuffer src) throws HandoffException {
    int magic = src.getInt();
    if (magic != MAGIC) {
      throw new HandoffException(Reason.BAD_MAGIC,
          String.format("bad acknowledgement magic 0x%08x (expected 0x%08x)", magic, MAGIC));
    }
    int version = src.get() & 0xff;
    if (version != HeaderCodec.VERSION) {
      throw new HandoffException(Reason.BAD_VERSION, "acknowledgement of protocol version "
          + version + " (this side speaks " + HeaderCodec.VERSION + ")");
    }
    int code = src.get() & 0xff;
    int length = src.getShort() & 0xffff;
    if (length != LENGTH) {
      throw new HandoffException(Reason.BAD_LENGTH, "acknowledgement length " + length
          + " (expected " + LENGTH + ")");
    }
    long id = src.getLong();
    Acknowledgement.Status status = Acknowledgement.Status.of(code);
    if (status == null) {
      throw new HandoffException(Reason.UNKNOWN_STATUS, id,
          "acknowledgement of c" + id + " with unknown status " + code);
    }
    return new Acknowledgement(id, status);
  }
}
