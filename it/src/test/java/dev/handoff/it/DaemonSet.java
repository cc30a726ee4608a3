package dev.handoff.it;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.TestInfo;

/** The daemons one test started, all killed at the end of the test whatever happened. */
final class DaemonSet implements AutoCloseable {
  final Path logs;
  private final List<Daemon> started = new ArrayList<>();

  /** Every daemon started so far, dead or alive, in order: their logs stay readable. */
  List<Daemon> all() {
    synchronized (started) {
      return List.copyOf(started);
    }
  }

  DaemonSet(TestInfo test) {
    this.logs = Path.of("target", "it-logs", test.getTestClass().orElseThrow().getSimpleName(),
        test.getTestMethod().map(java.lang.reflect.Method::getName).orElse("all-tests"));
  }

  Daemon app(Path socket, String... options) throws IOException {
    return track(Daemon.app(logs, socket, options));
  }

  Daemon proxy(int port, Path socket, String... options) throws IOException {
    return proxy(port, List.of(socket), options);
  }

  Daemon proxy(int port, List<Path> sockets, String... options) throws IOException {
    return track(Daemon.proxy(logs, port, sockets, options));
  }

  Daemon start(String role, String... args) throws IOException {
    return track(Daemon.start(logs, role, args));
  }

  /** Starts a role with extra environment variables, and {@link Daemon#WRAPPER} if given. */
  Daemon startWithEnv(java.util.Map<String, String> env, String role, String... args)
      throws IOException {
    return track(Daemon.start(logs, 0, env, role, args));
  }

  /** Starts a role with one extra environment variable. */
  Daemon startWithEnv(String name, String value, String role, String... args) throws IOException {
    return track(Daemon.start(logs, 0, java.util.Map.of(name, value), role, args));
  }

  /** Starts a role under {@code ulimit -n fdLimit}. */
  Daemon startLimited(int fdLimit, String role, String... args) throws IOException {
    return track(Daemon.start(logs, fdLimit, role, args));
  }

  /** A daemon started by {@code parent} (a proxy's successor), killed at the end as the others. */
  Daemon adopt(Daemon parent, long pid) {
    return track(Daemon.adopt(parent, pid));
  }

  /**
   * The {@code n}-th (from 1) successor that SIGHUP made {@code logOwner}'s proxies start, as its
   * log names them, adopted; waits up to 20 s for the log line.
   */
  Daemon successor(Daemon logOwner, int n) {
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
    while (true) {
      List<Long> pids = Daemon.successorPids(logOwner.log());
      if (pids.size() >= n) {
        return adopt(logOwner, pids.get(n - 1));
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("no new proxy number " + n + " started:\n" + logOwner.log());
      }
      Daemon.sleep(20);
    }
  }

  private Daemon track(Daemon d) {
    synchronized (started) {
      started.add(d);
    }
    return d;
  }

  @Override
  public void close() throws InterruptedException {
    for (Daemon d : started) {
      d.close();
    }
  }
}
