package dev.handoff.proxy.link;

import dev.handoff.proxy.accept.AcceptedConnection;
import dev.handoff.proxy.accept.ProxyStats;
import dev.handoff.common.HandoffHeader;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * App links over fake transports, a hand-driven clock, and a record of what became of every
 * connection: the pieces the state-machine tests drive by hand.
 */
final class Harness implements LinkEvents {
  static final Duration ACK_TIMEOUT = Duration.ofSeconds(2);
  static final Duration RETRY_MIN = Duration.ofMillis(50);
  static final Duration RETRY_MAX = Duration.ofSeconds(2);

  /** What became of a connection, once it left the proxy's hands. */
  enum End { ADOPTED, REJECTED, ABANDONED, EXPIRED, DROPPED_AT_SHUTDOWN }

  final AtomicLong clock = new AtomicLong(1_000_000_000L);
  final ProxyStats stats = new ProxyStats(new SimpleMeterRegistry());
  final List<FakeTransport> transports = new ArrayList<>();
  final List<Runnable> readers = new ArrayList<>();
  final Map<Long, List<End>> ends = new LinkedHashMap<>();
  final Map<Long, Integer> closes = new LinkedHashMap<>();
  final List<AcceptedConnection> resent = new ArrayList<>();
  final List<AcceptedConnection> retried = new ArrayList<>();
  IOException connectFailure;
  Runnable duringConnect;
  /** Runs as each abandoned connection is counted, before it is recorded. */
  Runnable duringAbandon;
  int linksChanged;
  private long nextId = 1;

  static LinkOptions config(int window) {
    return new LinkOptions(16, Duration.ofSeconds(10), Duration.ZERO, RETRY_MIN, RETRY_MAX, window,
        ACK_TIMEOUT, Set.of(0), false);
  }

  AppLink link(String name, int window) {
    return new AppLink(Path.of("/run/" + name + ".sock"), this, stats, config(window),
        socket -> {
          if (duringConnect != null) {
            duringConnect.run();
          }
          if (connectFailure != null) {
            throw connectFailure;
          }
          FakeTransport t = new FakeTransport();
          transports.add(t);
          return t;
        }, clock::get, readers::add);
  }

  FakeTransport last() {
    return transports.get(transports.size() - 1);
  }

  AcceptedConnection accept() {
    long id = nextId++;
    InetSocketAddress addr = new InetSocketAddress(InetAddress.getLoopbackAddress(), 1000);
    HandoffHeader header = new HandoffHeader(id, 0, addr, addr);
    closes.put(id, 0);
    ends.put(id, new ArrayList<>());
    return new AcceptedConnection(header, () -> null, () -> closes.merge(id, 1, Integer::sum),
        clock.get());
  }

  void advance(Duration d) {
    clock.addAndGet(d.toNanos());
  }

  private void end(AcceptedConnection conn, End how) {
    ends.get(conn.id()).add(how);
    conn.close();
  }

  void expire(AcceptedConnection conn) {
    end(conn, End.EXPIRED);
  }

  void droppedAtShutdown(AcceptedConnection conn) {
    end(conn, End.DROPPED_AT_SHUTDOWN);
  }

  List<End> endsOf(long id) {
    return ends.get(id);
  }

  @Override
  public void adopted(AcceptedConnection conn) {
    end(conn, End.ADOPTED);
  }

  @Override
  public void resend(AcceptedConnection conn) {
    resent.add(conn);
  }

  @Override
  public void retryLater(AcceptedConnection conn) {
    retried.add(conn);
  }

  @Override
  public void rejected(AcceptedConnection conn) {
    end(conn, End.REJECTED);
  }

  @Override
  public void abandoned(AcceptedConnection conn) {
    if (duringAbandon != null) {
      duringAbandon.run();
    }
    end(conn, End.ABANDONED);
  }

  @Override
  public void linksChanged() {
    linksChanged++;
  }
}
