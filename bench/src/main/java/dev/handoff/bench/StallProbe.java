package dev.handoff.bench;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The client of the start-up measurement (scripts/bench-startup.sh): holds {@code conns}
 * connections, all on one thread and one selector, each pinging {@code size} bytes {@code
 * interval} ms after its last echo came back and checking every echoed byte, so that a connection being moved between apps shows up as one round
 * trip as long as its stall. Runs until {@code stopFile} exists or {@code seconds} have passed,
 * then closes every connection (each socket is closed exactly once, by that thread) and prints
 * one line {@code RESULT conns=N round_trips=N errors=N mismatches=N max_rtt_ms=X
 * max_rtt_at_ms=EPOCH ...}: the longest round trip of all, when it ended (epoch milliseconds,
 * to match against the daemons' logs), and how many round trips took over 100 ms and 1 s.
 *
 * <pre>
 * java -cp handoff-bench.jar dev.handoff.bench.StallProbe --port PORT [--conns 100]
 *     [--interval 5] [--size 16] [--seconds 120] [--stop-file F] [--slow-ms N] [--window-ms N]
 *     [--host 127.0.0.1]
 * </pre>
 *
 * <p>With {@code --window-ms N}, a line {@code WINDOW end_ms=EPOCH max_us=X n=K} every N ms: the
 * longest of the K round trips that ended in those N ms (0 if none), so that the longest round
 * trip of any stretch of the run can be read afterwards (the stall while connections move against
 * the same stretch of steady load before).
 *
 * Prints {@code CONNECTED conns=N} once every connection has echoed once. Exit code 0, 3 if any
 * echoed byte was wrong, 1 if a connection failed, 2 on a usage error.
 */
public final class StallProbe {
  private final InetSocketAddress target;
  private final int size;
  private final long intervalMillis;
  private final long deadlineNanos;
  private final Path stopFile;
  /** Round trips longer than this are printed as SLOW lines; 0: none. */
  private final long slowNanos;
  private final AtomicLong roundTrips = new AtomicLong();
  private final AtomicLong errors = new AtomicLong();
  private final AtomicLong mismatches = new AtomicLong();
  private final AtomicLong over100ms = new AtomicLong();
  private final AtomicLong over1s = new AtomicLong();
  /** The longest round trip, in ns, that ended in the current window, and how many ended in it. */
  private final AtomicLong windowMax = new AtomicLong();
  private final AtomicLong windowCount = new AtomicLong();
  private final long windowMillis;
  private volatile boolean stop;
  private volatile String firstError;
  /** Per connection: its longest round trip, in ns, and when it ended (epoch ms). */
  private long[] maxRttNanos;
  private long[] maxRttAtMillis;

  private StallProbe(InetSocketAddress target, int size, long intervalMillis, double seconds,
      Path stopFile, long slowMillis, long windowMillis) {
    this.windowMillis = windowMillis;
    this.target = target;
    this.size = size;
    this.intervalMillis = intervalMillis;
    this.deadlineNanos = System.nanoTime() + (long) (seconds * 1e9);
    this.stopFile = stopFile;
    this.slowNanos = slowMillis * 1_000_000L;
  }

  public static void main(String[] args) throws Exception {
    String host = "127.0.0.1";
    int port = -1;
    int conns = 100;
    int size = 16;
    long interval = 5;
    double seconds = 120;
    Path stopFile = null;
    long slowMillis = 0;
    long windowMillis = 0;
    for (int i = 0; i + 1 < args.length; i += 2) {
      String v = args[i + 1];
      switch (args[i]) {
        case "--host" -> host = v;
        case "--port" -> port = Integer.parseInt(v);
        case "--conns" -> conns = Integer.parseInt(v);
        case "--size" -> size = Integer.parseInt(v);
        case "--interval" -> interval = Long.parseLong(v);
        case "--seconds" -> seconds = Double.parseDouble(v);
        case "--stop-file" -> stopFile = Path.of(v);
        case "--slow-ms" -> slowMillis = Long.parseLong(v);
        case "--window-ms" -> windowMillis = Long.parseLong(v);
        default -> usage("unknown option " + args[i]);
      }
    }
    if (args.length % 2 != 0 || port < 1 || port > 65535) {
      usage("--port PORT is required");
    }
    if (conns < 1 || conns > 1000 || size < 1 || size > 65536 || interval < 0 || interval > 1000
        || seconds <= 0 || seconds > 3600 || slowMillis < 0 || windowMillis < 0
        || windowMillis > 60_000) {
      usage("--conns 1-1000, --size 1-65536, --interval 0-1000 ms, --seconds (0, 3600],"
          + " --slow-ms 0 or more, --window-ms 0-60000");
    }
    InetAddress address = InetAddress.getByName(host);
    if (!address.isLoopbackAddress()) {
      usage("refusing " + address + ": the probe sends only to loopback addresses");
    }
    StallProbe probe = new StallProbe(new InetSocketAddress(address, port), size, interval,
        seconds, stopFile, slowMillis, windowMillis);
    System.out.println("RESULT " + probe.run(conns));
    System.out.flush();
    System.exit(probe.mismatches.get() > 0 ? 3 : probe.errors.get() > 0 ? 1 : 0);
  }

  private String run(int conns) throws InterruptedException, IOException {
    maxRttNanos = new long[conns];
    maxRttAtMillis = new long[conns];
    CountDownLatch connected = new CountDownLatch(conns);
    Pinger pinger = new Pinger(conns, connected);
    Thread thread = new Thread(pinger, "probe");
    thread.setDaemon(true);
    thread.start();
    connected.await();
    System.out.println("CONNECTED conns=" + conns + " errors=" + errors.get());
    System.out.flush();
    long sleep = windowMillis > 0 ? windowMillis : 50;
    long nextWindow = System.nanoTime() + sleep * 1_000_000L;
    while (!stop && System.nanoTime() - deadlineNanos < 0
        && (stopFile == null || !Files.exists(stopFile))) {
      Thread.sleep(Math.max(1, (nextWindow - System.nanoTime()) / 1_000_000L));
      nextWindow += sleep * 1_000_000L;
      if (windowMillis > 0) {
        String line = String.format(Locale.ROOT, "WINDOW end_ms=%d max_us=%d n=%d",
            System.currentTimeMillis(), windowMax.getAndSet(0) / 1000, windowCount.getAndSet(0));
        synchronized (System.out) {
          System.out.println(line);
        }
      }
    }
    stop = true;
    System.out.flush();
    pinger.selector.wakeup();
    thread.join(10_000);
    int worst = 0;
    for (int i = 1; i < conns; i++) {
      if (maxRttNanos[i] > maxRttNanos[worst]) {
        worst = i;
      }
    }
    long[] sorted = maxRttNanos.clone();
    Arrays.sort(sorted);
    return String.format(Locale.ROOT, "conns=%d round_trips=%d errors=%d mismatches=%d"
        + " max_rtt_ms=%.1f max_rtt_at_ms=%d median_conn_max_rtt_ms=%.1f over_100ms=%d"
        + " over_1s=%d%s", conns, roundTrips.get(), errors.get(), mismatches.get(),
        sorted[conns - 1] / 1e6, maxRttAtMillis[worst], sorted[conns / 2] / 1e6,
        over100ms.get(), over1s.get(),
        firstError == null ? "" : " first_error=\"" + firstError + "\"");
  }

  /** One connection of the probe: what it sent last, what has come back, when it pings next. */
  private final class Probe {
    final int index;
    final SocketChannel channel;
    final ByteBuffer out;
    final ByteBuffer in;
    long seq;
    long sentNanos;
    long dueNanos;
    boolean counted;

    Probe(int index, SocketChannel channel) {
      this.index = index;
      this.channel = channel;
      this.out = ByteBuffer.allocate(size);
      this.in = ByteBuffer.allocate(size);
    }
  }

  /**
   * Every connection on one thread and one selector: a thread per connection, each sleeping
   * between its pings, cost the probe a whole core of this two-core machine at 100 connections
   * pinging every 5 ms, taken from the servers it measures. Each connection pings, reads the echo
   * back, checks it, notes the round trip and pings again {@code interval} ms later, until told to
   * stop; then each socket is closed once, by this thread.
   */
  private final class Pinger implements Runnable {
    /** The longest the pinger parks when its next ping is due in less than a millisecond. */
    private static final long MAX_PARK_NANOS = 200_000;
    final Selector selector;
    private final int conns;
    private final CountDownLatch connected;
    /** Connections waiting for their next ping, the soonest due first. */
    private final ArrayDeque<Probe> waiting = new ArrayDeque<>();
    private final List<Probe> open = new ArrayList<>();

    Pinger(int conns, CountDownLatch connected) throws IOException {
      this.selector = Selector.open();
      this.conns = conns;
      this.connected = connected;
    }

    @Override
    public void run() {
      try {
        for (int i = 0; i < conns && !stop; i++) {
          connect(i);
        }
        // Each pings once all are connected: a first echo read only after the others' connects
        // would count their time in its round trip.
        for (Probe p : List.copyOf(open)) {
          ping(p);
        }
        loop();
      } catch (IOException e) {
        fail(null, e);
      } finally {
        for (Probe p : open) {
          close(p);
        }
        for (long n = connected.getCount(); n > 0; n--) {
          connected.countDown();
        }
        try {
          selector.close();
        } catch (IOException ignored) {
          // the process is ending
        }
      }
    }

    private void connect(int index) {
      SocketChannel ch = null;
      try {
        ch = SocketChannel.open();
        ch.socket().setTcpNoDelay(true);
        ch.socket().connect(target, 10_000);
        ch.configureBlocking(false);
        Probe p = new Probe(index, ch);
        ch.register(selector, SelectionKey.OP_READ, p);
        open.add(p);
        ch = null;
      } catch (IOException e) {
        fail(null, new IOException("connection " + index + ": " + e.getMessage(), e));
        connected.countDown();
        if (ch != null) {
          try {
            ch.close();
          } catch (IOException ignored) {
            // never connected
          }
        }
      }
    }

    private void loop() throws IOException {
      while (!stop && !open.isEmpty()) {
        long now = System.nanoTime();
        while (!waiting.isEmpty() && waiting.peekFirst().dueNanos - now <= 0) {
          ping(waiting.pollFirst());
        }
        if (waiting.isEmpty()) {
          selector.select(this::ready, 50);
          continue;
        }
        long untilDue = waiting.peekFirst().dueNanos - now;
        if (untilDue >= 1_000_000) {
          selector.select(this::ready, untilDue / 1_000_000);
        } else if (selector.selectNow(this::ready) == 0) {
          LockSupport.parkNanos(Math.min(untilDue, MAX_PARK_NANOS));
        }
      }
    }

    private void ping(Probe p) {
      p.out.clear();
      for (int i = 0; i < size; i++) {
        p.out.put((byte) (p.index * 31 + p.seq + i));
      }
      p.out.flip();
      p.in.clear();
      try {
        p.sentNanos = System.nanoTime();
        p.channel.write(p.out);
        if (p.out.hasRemaining()) {
          p.channel.keyFor(selector).interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
        }
      } catch (IOException e) {
        fail(p, e);
      }
    }

    private void ready(SelectionKey key) {
      Probe p = (Probe) key.attachment();
      try {
        if (key.isWritable()) {
          p.channel.write(p.out);
          if (!p.out.hasRemaining()) {
            key.interestOps(SelectionKey.OP_READ);
          }
        }
        if (!key.isReadable()) {
          return;
        }
        if (p.channel.read(p.in) < 0) {
          throw new IOException("closed by the server after " + p.seq + " round trips");
        }
        if (p.in.hasRemaining()) {
          return;
        }
        echoed(p, System.nanoTime());
      } catch (IOException | RuntimeException e) {
        fail(p, e);
      }
    }

    /** A whole echo is back: checks it, notes its round trip, and schedules the next ping. */
    private void echoed(Probe p, long now) throws IOException {
      long rtt = now - p.sentNanos;
      p.out.flip();
      p.in.flip();
      if (!p.in.equals(p.out)) {
        mismatches.incrementAndGet();
        throw new IOException("wrong bytes echoed");
      }
      p.seq++;
      roundTrips.incrementAndGet();
      windowMax.accumulateAndGet(rtt, Math::max);
      windowCount.incrementAndGet();
      if (rtt > maxRttNanos[p.index]) {
        maxRttNanos[p.index] = rtt;
        maxRttAtMillis[p.index] = System.currentTimeMillis();
      }
      if (rtt > 1_000_000_000L) {
        over1s.incrementAndGet();
      }
      if (rtt > 100_000_000L) {
        over100ms.incrementAndGet();
      }
      if (slowNanos > 0 && rtt > slowNanos) {
        String line = String.format(Locale.ROOT, "SLOW at_ms=%d rtt_ms=%.1f conn=%d",
            System.currentTimeMillis(), rtt / 1e6, p.index);
        synchronized (System.out) {
          System.out.println(line);
          System.out.flush();
        }
      }
      if (!p.counted) {
        p.counted = true;
        connected.countDown();
      }
      if (intervalMillis == 0) {
        ping(p);
      } else {
        p.dueNanos = now + intervalMillis * 1_000_000L;
        waiting.addLast(p); // due times grow with now: the queue stays in order
      }
    }

    /** A connection failed: counted once, closed, and no longer pinged. */
    private void fail(Probe p, Exception e) {
      errors.incrementAndGet();
      if (firstError == null) {
        firstError = p == null ? e.getMessage() : "connection " + p.index + ": " + e.getMessage();
      }
      if (p != null && open.remove(p)) {
        waiting.remove(p);
        close(p);
        if (!p.counted) {
          p.counted = true;
          connected.countDown();
        }
      }
    }

    private void close(Probe p) {
      try {
        p.channel.close();
      } catch (IOException ignored) {
        // closing is all that is left to do with it
      }
    }
  }

  private static void usage(String problem) {
    System.err.println("StallProbe: " + problem + "; see the class comment");
    System.exit(2);
  }
}
