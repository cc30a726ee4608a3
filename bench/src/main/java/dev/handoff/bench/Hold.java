package dev.handoff.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SelectionKey;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Scenario 4, concurrency: opens {@code target} connections, at most {@code maxConnecting} at a
 * time, and has each echo {@code size} bytes; keeps them all open and prints
 * {@code HELD held=N ...} once every one is held (or failed, or the connect phase stalled). Then
 * waits until {@code releaseFile} exists (so that the caller can measure the servers), has every
 * held connection echo {@code size} more bytes, and closes them all.
 *
 * <p>Needs one descriptor per connection: run it under {@code ulimit -n} above {@code target}.
 */
final class Hold extends Driver {
  private static final int CONNECTING = 0;
  private static final int HELD = 1;
  private static final int SECOND_ECHO = 2;
  private static final int ECHOED = 3;

  private final int target;
  private final int maxConnecting;
  private final int size;
  private final Path releaseFile;
  private final double holdTimeout;
  private int connecting;
  private int held;
  private int heldNow;
  private int connectFailures;
  private int lost;
  private int echoed;
  private int secondFailures;
  private long lastProgress;

  Hold(InetSocketAddress target, int conns, int maxConnecting, int size, Path releaseFile,
      double holdTimeout) throws IOException {
    super(target, Math.max(size, 64));
    this.target = conns;
    this.maxConnecting = maxConnecting;
    this.size = size;
    this.releaseFile = releaseFile;
    this.holdTimeout = holdTimeout;
  }

  @Override
  String run() throws IOException {
    Conn[] all = new Conn[target];
    long start = System.nanoTime();
    long connectDeadline = start + 120_000_000_000L;
    lastProgress = start;
    int started = 0;
    while (held + connectFailures < target) {
      long now = System.nanoTime();
      if (now - connectDeadline >= 0 || now - lastProgress > 5_000_000_000L) {
        break; // stalled: the server takes no more
      }
      while (connecting < maxConnecting && started < target) {
        Conn c = all[started] = new Conn();
        c.phase = CONNECTING;
        connecting++;
        try {
          if (open(c, started)) {
            startSending(c, size);
          }
        } catch (IOException e) {
          failed(c, "connect: " + e.getMessage());
        }
        started++;
      }
      selector.select(this, 100);
    }
    double connectSecs = seconds(System.nanoTime() - start);
    int unfinished = 0;
    for (Conn c : all) {
      if (c != null && c.phase == CONNECTING && !c.done) {
        unfinished++;
        c.close();
        c.done = true;
      }
    }
    System.out.printf(Locale.ROOT, "HELD held=%d target=%d failed=%d unfinished=%d seconds=%.3f%n",
        held, target, connectFailures, unfinished, connectSecs);
    System.out.flush();

    long holdEnd = System.nanoTime() + (long) (holdTimeout * 1e9);
    while (releaseFile != null && !Files.exists(releaseFile)
        && System.nanoTime() - holdEnd < 0) {
      selector.select(this, 50); // a held connection that the server closes shows up here
    }

    heldNow = 0;
    for (Conn c : all) {
      if (c != null && c.phase == HELD && !c.done) {
        heldNow++;
        c.phase = SECOND_ECHO;
        try {
          c.toWrite = size;
          if (write(c) > 0) {
            c.key.interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
          }
        } catch (IOException e) {
          failed(c, "second echo: " + e.getMessage());
        }
      }
    }
    long echoDeadline = System.nanoTime() + 60_000_000_000L;
    while (echoed + secondFailures < heldNow && System.nanoTime() - echoDeadline < 0) {
      selector.select(this, 100);
    }
    closeAll(all);
    return String.format(Locale.ROOT,
        "scenario=hold target=%d held=%d echoed=%d connect_failures=%d unfinished=%d"
            + " lost_while_held=%d connect_seconds=%.3f", target, held, echoed,
        connectFailures, unfinished, lost, connectSecs) + tail();
  }

  @Override
  void ready(Conn c, SelectionKey key) throws IOException {
    int n = echoStep(c, key, size);
    if (n == NOTHING_READ) {
      return;
    }
    if (n < 0) {
      failed(c, "EOF while " + (c.phase == HELD ? "held" : "echoing"));
      return;
    }
    if (c.received == c.sent && c.toWrite == 0) {
      if (c.phase == CONNECTING) {
        c.phase = HELD;
        held++;
        connecting--;
        lastProgress = System.nanoTime();
      } else if (c.phase == SECOND_ECHO) {
        c.phase = ECHOED;
        echoed++;
      }
    }
  }

  @Override
  void onFailed(Conn c) {
    switch (c.phase) {
      case CONNECTING -> {
        connecting--;
        connectFailures++;
        lastProgress = System.nanoTime();
      }
      case HELD -> lost++;
      case SECOND_ECHO -> secondFailures++;
      default -> { }
    }
  }
}
