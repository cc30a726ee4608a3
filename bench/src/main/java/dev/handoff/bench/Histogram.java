package dev.handoff.bench;

/**
 * Latencies in nanoseconds, log-linear: 64 buckets per power of two, so a percentile is within
 * about 1.6% of the true value. Fixed size, no allocation when recording. Not thread-safe.
 */
public final class Histogram {
  private static final int SUB_BITS = 6;
  private static final int SUB = 1 << SUB_BITS;

  private final long[] counts = new long[64 * SUB];
  private long count;
  private long max;

  public void record(long nanos) {
    long v = Math.max(0, nanos);
    counts[bucketOf(v)]++;
    count++;
    if (v > max) {
      max = v;
    }
  }

  public long count() {
    return count;
  }

  public long max() {
    return max;
  }

  public void reset() {
    java.util.Arrays.fill(counts, 0);
    count = 0;
    max = 0;
  }

  /** The value at quantile {@code q} (0 < q <= 1): the middle of its bucket, at most the maximum. */
  public long percentile(double q) {
    if (count == 0) {
      return 0;
    }
    long rank = Math.max(1, (long) Math.ceil(q * count));
    long seen = 0;
    for (int b = 0; b < counts.length; b++) {
      seen += counts[b];
      if (seen >= rank) {
        return Math.min(max, lowerBound(b) + width(b) / 2);
      }
    }
    return max;
  }

  static int bucketOf(long v) {
    if (v < SUB) {
      return (int) v;
    }
    int exponent = 63 - Long.numberOfLeadingZeros(v); // >= SUB_BITS
    int sub = (int) (v >>> (exponent - SUB_BITS)) & (SUB - 1);
    return (exponent - SUB_BITS + 1) * SUB + sub;
  }

  static long lowerBound(int bucket) {
    if (bucket < SUB) {
      return bucket;
    }
    int exponent = bucket / SUB + SUB_BITS - 1;
    long sub = bucket % SUB;
    return (SUB + sub) << (exponent - SUB_BITS);
  }

  static long width(int bucket) {
    return bucket < SUB ? 1 : 1L << (bucket / SUB - 1);
  }
}
