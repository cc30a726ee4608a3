package dev.handoff.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The load generator's check of echoed bytes: what it accepts and what it catches. */
class PatternTest {
  private static final int MAX = 4096;

  /** The stream of one connection, written in random chunks as the load generator would. */
  private static byte[] stream(Pattern p, int seed, int length, Random random) {
    byte[] all = new byte[length];
    int done = 0;
    while (done < length) {
      int n = Math.min(length - done, 1 + random.nextInt(MAX));
      p.chunk(done, seed, n).get(all, done, n);
      done += n;
    }
    return all;
  }

  @Test
  void chunksFollowTheDefinitionOfTheStream() {
    Pattern p = new Pattern(MAX);
    byte[] s = stream(p, 77, 20_000, new Random(1));
    for (int i = 0; i < s.length; i++) {
      assertEquals(Pattern.expected(i, 77), s[i], "byte " + i);
    }
  }

  @Test
  void acceptsTheEchoReadInAnyChunking() {
    Pattern p = new Pattern(MAX);
    Random random = new Random(2);
    byte[] s = stream(p, 5, 50_000, random);
    int done = 0;
    while (done < s.length) {
      int n = Math.min(s.length - done, 1 + random.nextInt(MAX));
      ByteBuffer got = ByteBuffer.allocateDirect(n).put(s, done, n).flip();
      assertTrue(p.matches(got, done, 5), "chunk at " + done);
      assertEquals(-1, p.mismatch(got, done, 5));
      done += n;
    }
  }

  @Test
  void findsTheFirstWrongByte() {
    Pattern p = new Pattern(MAX);
    byte[] s = stream(p, 9, 3000, new Random(3));
    s[1234] ^= 0x40;
    ByteBuffer got = ByteBuffer.wrap(s, 1000, 2000);
    assertFalse(p.matches(got, 1000, 9));
    assertEquals(234, p.mismatch(got, 1000, 9), "index relative to the buffer's position");
  }

  @Test
  void catchesAnotherConnectionsBytesAndAShiftedStream() {
    Pattern p = new Pattern(MAX);
    byte[] s = stream(p, 1, 1000, new Random(4));
    assertFalse(p.matches(ByteBuffer.wrap(s), 0, 2), "echo of another connection");
    assertFalse(p.matches(ByteBuffer.wrap(s, 1, 999), 0, 1), "a lost byte");
    assertFalse(p.matches(ByteBuffer.wrap(s, 0, 999), 1, 1), "a duplicated byte");
  }

  @Test
  void checksBuffersLongerThanOneChunk() {
    Pattern p = new Pattern(100);
    Pattern big = new Pattern(MAX);
    byte[] s = stream(big, 3, 4000, new Random(5));
    assertEquals(-1, p.mismatch(ByteBuffer.wrap(s), 0, 3));
    s[3999] ^= 1;
    assertEquals(3999, p.mismatch(ByteBuffer.wrap(s), 0, 3));
  }

  @Test
  void histogramPercentilesAreWithinTheirBucket() {
    Histogram h = new Histogram();
    for (long v = 1; v <= 100_000; v++) {
      h.record(v * 1000);
    }
    assertEquals(100_000, h.count());
    assertEquals(50_000_000, h.percentile(0.5), 50_000_000 * 0.02);
    assertEquals(99_000_000, h.percentile(0.99), 99_000_000 * 0.02);
    assertEquals(100_000_000, h.percentile(1.0));
    for (int b = 0; b < Histogram.bucketOf(Long.MAX_VALUE); b++) {
      assertEquals(Histogram.lowerBound(b) + Histogram.width(b), Histogram.lowerBound(b + 1),
          "buckets are contiguous at " + b);
      assertEquals(b, Histogram.bucketOf(Histogram.lowerBound(b)));
    }
  }
}
