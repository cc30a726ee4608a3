package dev.handoff.it;

import java.io.IOException;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Clients that connect and send at once, then wait (in the background) for their echo: for
 * checking that connections accepted while something is wrong are served once it is right.
 */
final class ClientGroup implements AutoCloseable {
  private final List<Socket> sockets = new ArrayList<>();
  private final List<Future<?>> echoes = new ArrayList<>();
  private final ExecutorService pool = Executors.newCachedThreadPool();

  /** Connects {@code n} clients to {@code port}; each sends a distinct line. */
  ClientGroup(int port, int n, int timeoutMs) throws IOException {
    for (int i = 0; i < n; i++) {
      Socket s = EchoClient.connect(port);
      s.setSoTimeout(timeoutMs);
      sockets.add(s);
      byte[] line = ("client " + i + " of " + n + "\n").getBytes();
      s.getOutputStream().write(line);
      echoes.add(pool.submit(() -> {
        byte[] got = EchoClient.readExactly(s.getInputStream(), line.length);
        if (!java.util.Arrays.equals(line, got)) {
          throw new AssertionError("wrong echo: " + new String(got));
        }
        return null;
      }));
    }
  }

  /** Closes up to {@code n} clients that were served; returns how many it closed. */
  int closeServed(int n) throws IOException {
    int closed = 0;
    for (int i = 0; i < sockets.size() && closed < n; i++) {
      Future<?> f = echoes.get(i);
      if (f.isDone() && !sockets.get(i).isClosed()) {
        sockets.get(i).close();
        closed++;
      }
    }
    return closed;
  }

  /** How many have had their echo so far. */
  int served() {
    int n = 0;
    for (Future<?> f : echoes) {
      if (f.isDone() && !f.isCancelled()) {
        try {
          f.get();
          n++;
        } catch (Exception e) {
          // failed: not served
        }
      }
    }
    return n;
  }

  /** Requires every client's echo, byte-exact, within {@code seconds}; reports the failures. */
  void assertAllServed(int seconds) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    List<String> failures = new ArrayList<>();
    for (int i = 0; i < echoes.size(); i++) {
      try {
        echoes.get(i).get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (Exception e) {
        failures.add("client " + i + ": " + e);
      }
    }
    if (!failures.isEmpty()) {
      throw new AssertionError(failures.size() + " of " + echoes.size()
          + " clients were not served:\n" + String.join("\n", failures));
    }
  }

  @Override
  public void close() throws IOException {
    pool.shutdownNow();
    for (Socket s : sockets) {
      s.close();
    }
  }
}
