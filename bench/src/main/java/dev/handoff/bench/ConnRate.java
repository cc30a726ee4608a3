package dev.handoff.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SelectionKey;
import java.util.Locale;

/**
 * Scenario 1, connection rate: each of {@code inflight} slots connects, writes {@code size} bytes,
 * reads them back verified, closes, and starts over. Counts the connections completed between the
 * end of the warm-up and the end of the run.
 */
final class ConnRate extends Driver {
  private final int inflight;
  private final int size;
  private final long warmupNanos;
  private final long runNanos;
  private final long maxConnections;
  private long opened;
  private long completed;
  private int active;
  private int nextSeed;
  private long windowStart;
  private long windowEnd;

  ConnRate(InetSocketAddress target, int inflight, int size, double warmup, double seconds,
      long maxConnections) throws IOException {
    super(target, Math.max(size, 64));
    this.inflight = inflight;
    this.size = size;
    this.warmupNanos = (long) (warmup * 1e9);
    this.runNanos = (long) (seconds * 1e9);
    this.maxConnections = maxConnections;
  }

  @Override
  String run() throws IOException {
    Conn[] slots = new Conn[inflight];
    long start = System.nanoTime();
    windowStart = start + warmupNanos;
    windowEnd = windowStart + runNanos;
    cpu.schedule(windowStart, windowEnd);
    long hardEnd = windowEnd + 5_000_000_000L;
    for (int i = 0; i < inflight; i++) {
      slots[i] = new Conn();
      active++;
      next(slots[i]);
    }
    while (active > 0 && System.nanoTime() - hardEnd < 0) {
      selector.select(this, 100);
      if (errors > 1000 && completed == 0) {
        break; // nothing works: give up rather than spin until the end
      }
    }
    int abandoned = active;
    closeAll(slots);
    double secs = seconds(runNanos);
    return String.format(Locale.ROOT,
        "scenario=connrate inflight=%d size=%d seconds=%.3f connections=%d rate=%.1f opened=%d"
            + " abandoned=%d", inflight, size, secs, completed, completed / secs, opened, abandoned)
        + tail();
  }

  /** Starts the slot's next connection, or retires the slot when the run is over. */
  private void next(Conn c) throws IOException {
    c.close();
    while (true) {
      if (System.nanoTime() - windowEnd >= 0 || opened >= maxConnections) {
        c.done = true;
        active--;
        return;
      }
      opened++;
      try {
        if (open(c, nextSeed++)) {
          startSending(c, size);
        }
        return;
      } catch (IOException e) {
        errors++;
        if (firstError == null) {
          firstError = "connect: " + e.getMessage();
        }
        c.close();
        if (errors > 1000 && completed == 0) {
          c.done = true;
          active--;
          return;
        }
      }
    }
  }

  @Override
  void ready(Conn c, SelectionKey key) throws IOException {
    int n = echoStep(c, key, size);
    if (n == NOTHING_READ) {
      return; // also when failed on a wrong byte: onFailed started the next one
    }
    if (n < 0) {
      failed(c, "EOF after " + c.received + " of " + size + " bytes");
    } else if (c.received == size) {
      long now = System.nanoTime();
      if (now - windowStart >= 0 && now - windowEnd < 0) {
        completed++;
      }
      next(c);
    }
  }

  @Override
  void onFailed(Conn c) {
    try {
      next(c);
    } catch (IOException e) {
      c.done = true;
      active--;
    }
  }
}
