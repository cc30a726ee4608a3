package dev.handoff.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SelectionKey;
import java.util.ArrayDeque;
import java.util.Locale;
import java.util.concurrent.locks.LockSupport;

/**
 * Connections at a fixed rate, open loop: the k-th connection is started at {@code k / rate}
 * seconds whatever became of the earlier ones, so that a server that slows down sees the same
 * arrivals (a closed loop would wait for it and hide the queueing). Each connects, writes
 * {@code size} bytes, reads them back verified and closes. At most {@code maxInflight} are open at
 * once; an arrival that finds none free is counted as skipped, not delayed. Reports the rate
 * achieved and the client's connect-to-echo time (p50, p99) of the connections started in the
 * measured window. With a warm-up, prints {@code WINDOW started} on its own line when the
 * measured window begins.
 */
final class OpenLoop extends Driver {
  /** The longest the generator parks between two looks at its connections. */
  private static final long MAX_PARK_NANOS = 200_000;
  private final double rate;
  private final int size;
  private final int maxInflight;
  private final long warmupNanos;
  private final long runNanos;
  private final Histogram latency = new Histogram();
  private final ArrayDeque<Conn> free = new ArrayDeque<>();
  private long completed;
  private long skipped;
  private long started;
  private int active;
  private int nextSeed;
  private long windowStart;
  private long windowEnd;

  OpenLoop(InetSocketAddress target, double rate, int size, int maxInflight, double warmup,
      double seconds) throws IOException {
    super(target, Math.max(size, 64));
    if (rate <= 0 || rate > 1_000_000 || maxInflight < 1 || maxInflight > 10_000) {
      throw new IllegalArgumentException("--rate must be in (0, 1000000], --max-inflight 1-10000");
    }
    this.rate = rate;
    this.size = size;
    this.maxInflight = maxInflight;
    this.warmupNanos = (long) (warmup * 1e9);
    this.runNanos = (long) (seconds * 1e9);
  }

  @Override
  String run() throws IOException {
    Conn[] all = new Conn[maxInflight];
    for (int i = 0; i < maxInflight; i++) {
      all[i] = new Conn();
      free.add(all[i]);
    }
    long start = System.nanoTime();
    windowStart = start + warmupNanos;
    windowEnd = windowStart + runNanos;
    cpu.schedule(windowStart, windowEnd);
    long hardEnd = windowEnd + 5_000_000_000L;
    long arrivals = 0;
    double gapNanos = 1e9 / rate;
    boolean windowAnnounced = warmupNanos == 0;
    while (System.nanoTime() - hardEnd < 0) {
      long now = System.nanoTime();
      if (!windowAnnounced && now - windowStart >= 0) {
        // For a script that reads the server's own counters over the measured window only.
        System.out.println("WINDOW started");
        System.out.flush();
        windowAnnounced = true;
      }
      long due = start + (long) (arrivals * gapNanos);
      if (due - windowEnd >= 0 && active == 0) {
        break;
      }
      while (due - now <= 0 && due - windowEnd < 0) {
        arrive(due);
        arrivals++;
        due = start + (long) (arrivals * gapNanos);
      }
      long untilDue = due - now;
      if (due - windowEnd >= 0) {
        selector.select(this, 100);
      } else if (untilDue >= 1_000_000) {
        selector.select(this, untilDue / 1_000_000);
      } else if (selector.selectNow(this) == 0 && untilDue > 0) {
        // The next arrival is due within a millisecond, finer than select's timeout: park until
        // then rather than spin on selectNow, which took a whole core from the servers on a
        // two-core machine at any rate above 1,000/s. An echo that comes back meanwhile is read
        // at most MAX_PARK_NANOS late.
        LockSupport.parkNanos(Math.min(untilDue, MAX_PARK_NANOS));
      }
    }
    int abandoned = active;
    closeAll(all);
    double secs = seconds(runNanos);
    return String.format(Locale.ROOT,
        "scenario=rate target_rate=%.1f size=%d seconds=%.3f connections=%d rate=%.1f"
            + " started=%d skipped=%d abandoned=%d conn_p50_us=%.1f conn_p99_us=%.1f"
            + " conn_max_us=%.1f", rate, size, secs, completed, completed / secs, started,
        skipped, abandoned, latency.percentile(0.50) / 1e3, latency.percentile(0.99) / 1e3,
        latency.max() / 1e3) + tail();
  }

  /** One arrival, due at {@code due}: a free connection starts, or the arrival is skipped. */
  private void arrive(long due) {
    boolean counted = due - windowStart >= 0 && due - windowEnd < 0;
    Conn c = free.poll();
    if (c == null) {
      if (counted) {
        skipped++;
      }
      return;
    }
    if (counted) {
      started++;
    }
    active++;
    try {
      boolean connected = open(c, nextSeed++);
      c.startedNanos = due; // from when it was due: a late start is the server's delay too
      c.phase = counted ? 1 : 0;
      if (connected) {
        startSending(c, size);
      }
    } catch (IOException e) {
      failed(c, "connect: " + e.getMessage());
    }
  }

  @Override
  void ready(Conn c, SelectionKey key) throws IOException {
    int n = echoStep(c, key, size);
    if (n == NOTHING_READ) {
      return; // also when failed on a wrong byte: onFailed freed it
    }
    if (n < 0) {
      failed(c, "EOF after " + c.received + " of " + size + " bytes");
    } else if (c.received == size) {
      if (c.phase == 1) {
        completed++;
        latency.record(System.nanoTime() - c.startedNanos);
      }
      c.close();
      release(c);
    }
  }

  @Override
  void onFailed(Conn c) {
    release(c);
  }

  private void release(Conn c) {
    active--;
    free.add(c);
  }
}
