package dev.handoff.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SelectionKey;
import java.util.Locale;

/**
 * Scenario 2, request/response: {@code conns} persistent connections, each sending a
 * {@code size}-byte message and waiting for its echo before sending the next. Counts round trips
 * and their times between the end of the warm-up and the end of the run.
 */
final class RequestResponse extends Driver {
  private final int conns;
  private final int size;
  private final long warmupNanos;
  private final long runNanos;
  private final Histogram rtt = new Histogram();
  private long roundTrips;
  private int active;
  private long windowStart;
  private long windowEnd;

  RequestResponse(InetSocketAddress target, int conns, int size, double warmup, double seconds)
      throws IOException {
    super(target, Math.max(size, 64));
    this.conns = conns;
    this.size = size;
    this.warmupNanos = (long) (warmup * 1e9);
    this.runNanos = (long) (seconds * 1e9);
  }

  @Override
  String run() throws IOException {
    Conn[] all = new Conn[conns];
    int connecting = 0;
    for (int i = 0; i < conns; i++) {
      all[i] = new Conn();
      if (open(all[i], i)) {
        all[i].key.interestOps(SelectionKey.OP_READ);
      } else {
        connecting++;
      }
    }
    // Connect everything first, so the timed part is round trips only.
    long connectDeadline = System.nanoTime() + 10_000_000_000L;
    while (connecting > 0 && System.nanoTime() - connectDeadline < 0) {
      int[] left = {connecting};
      selector.select(key -> {
        Conn c = (Conn) key.attachment();
        try {
          if (key.isConnectable() && c.channel.finishConnect()) {
            key.interestOps(SelectionKey.OP_READ);
            left[0]--;
          }
        } catch (IOException e) {
          left[0]--;
          failed(c, "connect: " + e.getMessage());
        }
      }, 100);
      connecting = left[0];
    }
    long start = System.nanoTime();
    windowStart = start + warmupNanos;
    windowEnd = windowStart + runNanos;
    cpu.schedule(windowStart, windowEnd);
    long hardEnd = windowEnd + 5_000_000_000L;
    for (Conn c : all) {
      if (!c.done && c.channel.isConnected()) {
        active++;
        c.running = true;
        send(c, start);
      } else if (!c.done) {
        failed(c, "connect timed out");
      }
    }
    while (active > 0 && System.nanoTime() - hardEnd < 0) {
      selector.select(this, 100);
    }
    int abandoned = active;
    closeAll(all);
    double secs = seconds(runNanos);
    return String.format(Locale.ROOT,
        "scenario=rr conns=%d size=%d seconds=%.3f round_trips=%d rate=%.1f rtt_p50_us=%.1f"
            + " rtt_p99_us=%.1f rtt_p999_us=%.1f rtt_max_us=%.1f abandoned=%d",
        conns, size, secs, roundTrips, roundTrips / secs, rtt.percentile(0.50) / 1e3,
        rtt.percentile(0.99) / 1e3, rtt.percentile(0.999) / 1e3, rtt.max() / 1e3, abandoned)
        + tail();
  }

  private void send(Conn c, long now) throws IOException {
    c.startedNanos = now;
    c.toWrite = size;
    if (write(c) > 0) {
      c.key.interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
    }
  }

  @Override
  void ready(Conn c, SelectionKey key) throws IOException {
    int n = sendAndRead(c, key);
    if (n == NOTHING_READ) {
      return;
    }
    if (n < 0) {
      failed(c, "EOF in the middle of a round trip");
      return;
    }
    if (c.received == c.sent && c.toWrite == 0) {
      long now = System.nanoTime();
      if (c.startedNanos - windowStart >= 0 && now - windowEnd < 0) {
        roundTrips++;
        rtt.record(now - c.startedNanos);
      }
      if (now - windowEnd < 0) {
        send(c, now);
      } else {
        c.done = true;
        c.running = false;
        active--;
      }
    }
  }

  @Override
  void onFailed(Conn c) {
    if (c.running) {
      c.running = false;
      active--;
    }
  }
}
