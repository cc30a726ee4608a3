package dev.handoff.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SelectionKey;
import java.util.Locale;

/**
 * Scenario 3, bulk: {@code conns} connections each write their stream as fast as the echo comes
 * back, with at most {@code window} bytes not yet echoed, and read everything back verified.
 * Reports the bytes echoed (read back) per second between the end of the warm-up and the end of
 * the run, in MB/s (10^6 bytes).
 */
final class Bulk extends Driver {
  private final int conns;
  private final int chunk;
  private final long window;
  private final long warmupNanos;
  private final long runNanos;
  private long echoed;
  private int active;
  private long windowStart;
  private long windowEnd;
  private boolean stopping;

  Bulk(InetSocketAddress target, int conns, int chunk, long window, double warmup, double seconds)
      throws IOException {
    super(target, chunk);
    this.conns = conns;
    this.chunk = chunk;
    this.window = window;
    this.warmupNanos = (long) (warmup * 1e9);
    this.runNanos = (long) (seconds * 1e9);
  }

  @Override
  String run() throws IOException {
    Conn[] all = new Conn[conns];
    long start = System.nanoTime();
    windowStart = start + warmupNanos;
    windowEnd = windowStart + runNanos;
    cpu.schedule(windowStart, windowEnd);
    long hardEnd = windowEnd + 10_000_000_000L;
    for (int i = 0; i < conns; i++) {
      all[i] = new Conn();
      open(all[i], i * 17);
      all[i].running = true;
      active++;
      if (all[i].channel.isConnected()) {
        all[i].key.interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
      }
    }
    while (active > 0 && System.nanoTime() - hardEnd < 0) {
      selector.select(this, 100);
      if (!stopping && System.nanoTime() - windowEnd >= 0) {
        stopping = true;
        for (Conn c : all) {
          if (!c.done && c.key != null && c.key.isValid()
              && (c.key.interestOps() & SelectionKey.OP_CONNECT) == 0) {
            c.key.interestOps(SelectionKey.OP_READ);
            finishIfDrained(c);
          }
        }
      }
    }
    int abandoned = active;
    long total = 0;
    for (Conn c : all) {
      total += c.received;
    }
    closeAll(all);
    double secs = seconds(runNanos);
    return String.format(Locale.ROOT,
        "scenario=bulk conns=%d chunk=%d window=%d seconds=%.3f bytes=%d mbps=%.1f"
            + " total_verified_bytes=%d abandoned=%d",
        conns, chunk, window, secs, echoed, echoed / secs / 1e6, total, abandoned) + tail();
  }

  @Override
  void ready(Conn c, SelectionKey key) throws IOException {
    if (key.isConnectable()) {
      c.channel.finishConnect();
      key.interestOps(stopping ? SelectionKey.OP_READ
          : SelectionKey.OP_READ | SelectionKey.OP_WRITE);
      if (stopping) {
        finishIfDrained(c);
      }
      return;
    }
    if (key.isReadable()) {
      int n = read(c);
      if (c.done) {
        return;
      }
      if (n < 0) {
        failed(c, "EOF with " + (c.sent - c.received) + " bytes not echoed");
        return;
      }
      long now = System.nanoTime();
      if (now - windowStart >= 0 && now - windowEnd < 0) {
        echoed += n;
      }
      if (stopping) {
        finishIfDrained(c);
        return;
      }
      if (c.sent - c.received < window) {
        key.interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
      }
    }
    if (!stopping && key.isValid() && key.isWritable()) {
      long room = window - (c.sent - c.received);
      if (room > 0) {
        c.toWrite = (int) Math.min(chunk, room);
        write(c);
        c.toWrite = 0;
      }
      if (c.sent - c.received >= window) {
        key.interestOps(SelectionKey.OP_READ);
      }
    }
  }

  private void finishIfDrained(Conn c) {
    if (!c.done && c.received == c.sent) {
      c.done = true;
      c.running = false;
      active--;
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
