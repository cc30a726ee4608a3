package dev.handoff.proxy.link;

import java.time.Duration;

/**
 * An exponential backoff: the first delay is the minimum, each next one doubles up to the maximum,
 * and {@link #reset} starts again from the minimum. Not thread-safe: its owner guards it.
 */
final class Backoff {
  private final long minNanos;
  private final long maxNanos;
  private long currentNanos;

  Backoff(Duration min, Duration max) {
    this.minNanos = min.toNanos();
    this.maxNanos = Math.max(minNanos, max.toNanos());
  }

  /** The next delay, in nanoseconds: the minimum after a reset, else twice the last, at most the maximum. */
  long next() {
    currentNanos = currentNanos == 0 ? minNanos : Math.min(maxNanos, currentNanos * 2);
    return currentNanos;
  }

  /** The last delay given, 0 after a reset. */
  long current() {
    return currentNanos;
  }

  /** The next delay is the minimum again. */
  void reset() {
    currentNanos = 0;
  }

  long minNanos() {
    return minNanos;
  }

  long maxNanos() {
    return maxNanos;
  }
}
