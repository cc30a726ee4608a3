package dev.handoff.server;

import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAccumulator;

/**
 * Handoff latency, from the proxy's accept (the header's timestamp) to the app owning the
 * descriptor, in microseconds. Log-linear buckets: 16 per power of two, so any percentile is within
 * about 6% of the true value. Recording is lock-free and allocation-free.
 */
final class LatencyHistogram {
  private static final int SUB_BUCKETS = 16;
  private static final int BUCKETS = 64 * SUB_BUCKETS;

  private final AtomicLongArray counts = new AtomicLongArray(BUCKETS);
  private final LongAccumulator max = new LongAccumulator(Math::max, 0);

  /** Records one value; negative values (clock steps between the processes) count as zero. */
  void record(long micros) {
    long v = Math.max(0, micros);
    counts.incrementAndGet(bucketOf(v));
    max.accumulate(v);
  }

  long count() {
    long n = 0;
    for (int i = 0; i < BUCKETS; i++) {
      n += counts.get(i);
    }
    return n;
  }

  /** The smallest bucket upper bound at or above the given fraction of values (0 < q <= 1). */
  long percentile(double q) {
    long total = count();
    if (total == 0) {
      return 0;
    }
    long rank = (long) Math.ceil(q * total);
    long seen = 0;
    for (int i = 0; i < BUCKETS; i++) {
      seen += counts.get(i);
      if (seen >= rank) {
        return Math.min(upperBound(i), max());
      }
    }
    return max();
  }

  long max() {
    return max.get();
  }

  /** One line for the log: count, p50, p99, p99.9 and max. */
  String summary() {
    return "n=" + count() + " p50=" + percentile(0.50) + "us p99=" + percentile(0.99)
        + "us p99.9=" + percentile(0.999) + "us max=" + max() + "us";
  }

  static int bucketOf(long v) {
    if (v < SUB_BUCKETS) {
      return (int) v;
    }
    int exponent = 63 - Long.numberOfLeadingZeros(v); // v >= 16, so exponent >= 4
    int sub = (int) (v >>> (exponent - 4)) & (SUB_BUCKETS - 1);
    return (exponent - 3) * SUB_BUCKETS + sub;
  }

  static long upperBound(int bucket) {
    if (bucket < SUB_BUCKETS) {
      return bucket;
    }
    int exponent = bucket / SUB_BUCKETS + 3;
    long sub = bucket % SUB_BUCKETS;
    return ((SUB_BUCKETS + sub + 1) << (exponent - 4)) - 1;
  }
}
