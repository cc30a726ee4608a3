package dev.handoff.bench;

import java.nio.ByteBuffer;

/**
 * The byte stream every load-generator connection sends, and the check of what comes back.
 *
 * <p>Byte {@code i} of the stream of a connection with seed {@code s} is
 * {@code value((i + s) mod 251)}. 251 is prime, so streams with different seeds differ almost
 * everywhere, and a server that echoed one connection's bytes on another, dropped, duplicated or
 * reordered bytes is caught at the first wrong byte.
 *
 * <p>Allocation-free: the whole period, followed by enough bytes for the longest chunk, is laid out
 * once in a direct buffer; a chunk for any offset is a window on it, written to the socket without a
 * copy, and a received chunk is compared with the same window by {@link ByteBuffer#mismatch}
 * (vectorised in the JDK). The views are not thread-safe: one per thread.
 */
public final class Pattern {
  public static final int PERIOD = 251;

  private final int maxChunk;
  private final ByteBuffer sendView;
  private final ByteBuffer checkView;

  /** @param maxChunk the longest chunk that {@link #chunk} or {@link #mismatch} will be asked for */
  public Pattern(int maxChunk) {
    this.maxChunk = maxChunk;
    ByteBuffer table = ByteBuffer.allocateDirect(PERIOD + maxChunk);
    for (int i = 0; i < table.capacity(); i++) {
      table.put(i, value(i % PERIOD));
    }
    this.sendView = table.duplicate();
    this.checkView = table.duplicate();
  }

  /** Byte {@code k} of the period. */
  static byte value(int k) {
    return (byte) (k * 37 + 11);
  }

  /** Byte {@code offset} of the stream with this seed. */
  public static byte expected(long offset, int seed) {
    return value((int) Math.floorMod(offset + seed, (long) PERIOD));
  }

  /**
   * The {@code length} stream bytes from {@code offset}, as a window that is valid until the next
   * call: position at the first byte, limit after the last.
   */
  public ByteBuffer chunk(long offset, int seed, int length) {
    return window(sendView, offset, seed, length);
  }

  /**
   * Compares the remaining bytes of {@code received} with the stream from {@code offset}.
   *
   * @return -1 if they match, else the index (relative to the buffer's position) of the first
   *     wrong byte
   */
  public int mismatch(ByteBuffer received, long offset, int seed) {
    int length = received.remaining();
    int done = 0;
    while (done < length) {
      int n = Math.min(maxChunk, length - done);
      ByteBuffer part = received.duplicate();
      part.position(received.position() + done).limit(received.position() + done + n);
      int at = part.mismatch(window(checkView, offset + done, seed, n));
      if (at >= 0) {
        return done + at;
      }
      done += n;
    }
    return -1;
  }

  /** {@link #mismatch} for a buffer of at most {@code maxChunk} bytes, with no allocation. */
  public boolean matches(ByteBuffer received, long offset, int seed) {
    int length = received.remaining();
    if (length > maxChunk) {
      return mismatch(received, offset, seed) < 0;
    }
    return received.mismatch(window(checkView, offset, seed, length)) < 0;
  }

  private ByteBuffer window(ByteBuffer view, long offset, int seed, int length) {
    if (length > maxChunk) {
      throw new IllegalArgumentException("chunk of " + length + " bytes > " + maxChunk);
    }
    int start = (int) Math.floorMod(offset + seed, (long) PERIOD);
    view.limit(start + length).position(start);
    return view;
  }
}
