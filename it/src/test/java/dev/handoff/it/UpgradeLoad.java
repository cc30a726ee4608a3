package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Arrays;
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

  /**
   * One stream on {@code port} of at most {@code bytes}, paced at about 4 MiB/s, ended (half-closed)
   * at {@code bytes} or once {@link #finish} has begun, and checked byte for byte as it comes
   * back; the future gives the bytes read back once the stream's end came back too, and fails if
   * that is not every byte written.
   */
  Future<Long> stream(int port, long bytes) throws IOException {
    Socket stream = EchoClient.connect(port);
    AtomicLong written = new AtomicLong();
    AtomicBoolean ended = new AtomicBoolean();
    hold(() -> {
      try {
        OutputStream out = stream.getOutputStream(); // closed with the socket, by the reader
        Random random = new Random(64);
        byte[] chunk = new byte[64 << 10];
        for (long sent = 0; sent < bytes && !stop.get(); sent += chunk.length) {
          random.nextBytes(chunk);
          out.write(chunk);
          written.addAndGet(chunk.length);
          if ((sent / chunk.length) % 64 == 63) {
            Thread.sleep(1_000); // the pace: 4 MiB a second
          }
        }
        ended.set(true);
        stream.shutdownOutput();
      } catch (Throwable e) {
        failures.add("stream write: " + e);
      }
      return null;
    });
    return pool.submit(() -> {
      Random random = new Random(64);
      byte[] expected = new byte[64 << 10];
      InputStream in = stream.getInputStream();
      long got = 0;
      while (true) {
        int first = in.read();
        if (first < 0) {
          break;
        }
        random.nextBytes(expected);
        byte[] rest = EchoClient.readExactly(in, expected.length - 1);
        if ((byte) first != expected[0]
            || !Arrays.equals(expected, 1, expected.length, rest, 0, rest.length)) {
          throw new AssertionError("stream differs in the chunk at byte " + got);
        }
        got += expected.length;
      }
      stream.close();
      if (!ended.get() || got != written.get()) {
        throw new AssertionError("stream: " + written.get() + " bytes written, " + got
            + " came back before its end");
      }
      return got;
    });
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
