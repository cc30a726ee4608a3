package dev.handoff.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LatencyHistogramTest {
  @Test
  void bucketsCoverEveryValueWithinSixPercent() {
    for (long v : new long[] {0, 1, 15, 16, 17, 31, 32, 100, 999, 1000, 65_535, 1_000_000,
        123_456_789L, Long.MAX_VALUE / 2}) {
      long upper = LatencyHistogram.upperBound(LatencyHistogram.bucketOf(v));
      assertTrue(upper >= v, v + " fits under its bucket's bound " + upper);
      assertTrue(upper - v <= Math.max(0, v / 16), v + " is within 1/16 of " + upper);
    }
  }

  @Test
  void percentilesOfAKnownDistribution() {
    LatencyHistogram h = new LatencyHistogram();
    for (int i = 1; i <= 1000; i++) {
      h.record(i);
    }
    assertEquals(1000, h.count());
    long p50 = h.percentile(0.5);
    assertTrue(p50 >= 500 && p50 <= 532, "p50 " + p50);
    long p99 = h.percentile(0.99);
    assertTrue(p99 >= 990 && p99 <= 1000, "p99 " + p99 + " is capped by the max seen");
    assertEquals(1000, h.max());
  }

  @Test
  void negativeValuesFromClockStepsCountAsZero() {
    LatencyHistogram h = new LatencyHistogram();
    h.record(-5);
    assertEquals(0, h.percentile(1.0));
  }
}
