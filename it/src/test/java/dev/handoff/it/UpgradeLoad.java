package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Clients of the echo service while a proxy is upgraded: new connections at a steady rate over
 * some ports (each connects, echoes 1 KiB and closes), and held connections ping-ponging 64 bytes
 * every 50 ms; with what was refused, lost or wrong, and the longest a new connection waited from
 * {@code connect} to its echo.
 */
final class UpgradeLoad implements AutoCloseable {
  final AtomicLong refused = new AtomicLong();
  final AtomicLong lost = new AtomicLong();
  final AtomicLong served = new AtomicLong();
  final AtomicLong longestWaitNanos = new AtomicLong();
  final AtomicLong pingPongs = new AtomicLong();
  final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
  /** Runs every client; tests may submit clients of their own. */
  final ExecutorService pool = Executors.newCachedThreadPool();
  private final ScheduledExecutorService arrivals = Executors.newSingleThreadScheduledExecutor();
  private final AtomicBoolean stop = new AtomicBoolean();
  private final List<Future<?>> held = new ArrayList<>();
  private int pingers;

  /** Whether {@link #finish} has begun: held clients end their loops. */
  boolean stopping() {
    return stop.get();
  }

  /** {@code n} clients on {@code port}, each on one connection, ping-ponging until finished. */
  void pingPong(int port, int n) throws IOException {
    List<Socket> sockets = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      sockets.add(EchoClient.connect(port));
    }
    for (Socket s : sockets) {
      Random random = new Random(pingers++);
      hold(() -> {
        try (s) {
          while (!stop.get()) {
            EchoClient.assertEchoes(s, EchoClient.randomBytes(random, 64));
            pingPongs.incrementAndGet();
            Thread.sleep(50);
          }
        } catch (Throwable e) {
          failures.add("ping-pong: " + e);
        }
        return null;
      });
    }
  }

  /** Runs a held client, which {@link #finish} waits for. */
  void hold(Callable<?> client) {
    held.add(pool.submit(client));
  }

  /** {@code perSecond} new connections a second, over {@code ports} in turn. */
  void arrivals(int perSecond, int... ports) {
    AtomicLong seq = new AtomicLong();
    arrivals.scheduleAtFixedRate(() -> pool.submit(() -> {
      long n = seq.incrementAndGet();
      arrive(n, ports[(int) (n % ports.length)]);
    }), 0, 1_000 / perSecond, TimeUnit.MILLISECONDS);
  }

  private void arrive(long n, int port) {
    byte[] data = EchoClient.randomBytes(new Random(n), 1024);
    long start = System.nanoTime();
    Socket s = new Socket();
    try (s) {
      try {
        s.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
      } catch (ConnectException e) {
        refused.incrementAndGet();
        failures.add("client " + n + " (port " + port + ") refused: " + e.getMessage());
        return;
      }
      s.setSoTimeout(15_000);
      s.getOutputStream().write(data);
      byte[] back = EchoClient.readExactly(s.getInputStream(), data.length);
      long wait = System.nanoTime() - start;
      longestWaitNanos.accumulateAndGet(wait, Math::max);
      if (!java.util.Arrays.equals(data, back)) {
        lost.incrementAndGet();
        failures.add("client " + n + " (port " + port + ") got other bytes back");
        return;
      }
      served.incrementAndGet();
    } catch (IOException e) {
      lost.incrementAndGet();
      failures.add("client " + n + " (port " + port + ") lost: " + e);
    }
  }

  /** Stops the arrivals and the held clients, and waits until every client has finished. */
  void finish() throws Exception {
    stop.set(true);
    arrivals.shutdown();
    arrivals.awaitTermination(5, TimeUnit.SECONDS);
    for (Future<?> f : held) {
      f.get(30, TimeUnit.SECONDS);
    }
    pool.shutdown();
    assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS), "clients did not finish");
  }

  /**
   * Waits until {@code n} more new connections than now have been served: the load runs, under
   * whatever happens next; fails if it does not within a minute.
   */
  void awaitServed(int n) {
    long target = served.get() + n;
    Daemon.await("the load served " + n + " more new connections (now " + served.get() + ")",
        java.time.Duration.ofSeconds(60), () -> served.get() >= target);
  }

  /** The longest wait of a new connection, in milliseconds. */
  double longestWaitMillis() {
    return longestWaitNanos.get() / 1e6;
  }

  @Override
  public void close() {
    stop.set(true);
    arrivals.shutdownNow();
    pool.shutdownNow();
  }
}
