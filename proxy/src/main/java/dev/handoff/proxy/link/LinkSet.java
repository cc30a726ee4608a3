package dev.handoff.proxy.link;

import java.net.InetAddress;
import java.util.List;
import java.util.function.LongSupplier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The links to every app socket, and the choice of which one takes the next connection: the one
 * with the fewest unanswered handoffs among the healthy ones (see {@link AppLink#healthy()}), ties
 * broken round robin; a link on probation only when no healthy one can take it. One maintenance
 * thread connects links that are down and watches for apps that stopped answering.
 *
 * <p><b>Sticky</b> ({@code --sticky}): a connection goes to the app its client address hashes to
 * among the links that are up (rendezvous hashing on the address and the app's socket path), so
 * the same client reaches the same app while that app is linked, also across proxy restarts; when
 * that app's link goes down its clients spread over the others, and only they move. While the
 * chosen link cannot take more (its window full, or a RETRY pause), the connection waits for it
 * rather than go elsewhere, and so do those queued behind it on this route.
 */
final class LinkSet {
  private static final long MAINTENANCE_MS = 20;

  private final List<AppLink> links;
  private final boolean sticky;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final Thread maintenance;
  private volatile boolean stopped;
  private volatile boolean linking = true;
  private int next;

  LinkSet(List<AppLink> links) {
    this(links, false);
  }

  /** Links that spread connections by client address when {@code sticky}, as described above. */
  LinkSet(List<AppLink> links, boolean sticky) {
    this.links = links;
    this.sticky = sticky;
    this.maintenance = new Thread(this::maintain, "linker");
    this.maintenance.setDaemon(true);
  }

  void start() {
    maintenance.start();
  }

  List<AppLink> links() {
    return links;
  }

  /**
   * Returns a link that can take a connection now, waiting until the deadline for one. The
   * deadline is asked again at every wake-up, since a shutdown can bring it forward.
   *
   * @return the link, or {@code null} if none could take it in time, or after {@link #stop()}, or
   *     at once when the proxy is shutting down and no link is up
   */
  AppLink pick(LongSupplier deadline) throws InterruptedException {
    return pick(deadline, null);
  }

  /**
   * As {@link #pick(LongSupplier)}, for a connection from {@code client} ({@code null} if
   * unknown), which decides the link when the set is sticky.
   */
  AppLink pick(LongSupplier deadline, InetAddress client) throws InterruptedException {
    lock.lock();
    try {
      while (!stopped) {
        AppLink best = choose(client);
        if (best != null) {
          return best;
        }
        if (!linking && links.stream().noneMatch(l -> l.state() == AppLink.State.UP)) {
          return null; // no link can come up any more
        }
        long wait = deadline.getAsLong() - System.nanoTime();
        if (wait <= 0) {
          return null;
        }
        changed.await(Math.min(wait, TimeUnit.MILLISECONDS.toNanos(MAINTENANCE_MS)),
            TimeUnit.NANOSECONDS);
      }
      return null;
    } finally {
      lock.unlock();
    }
  }

  /** A link that can take a connection right now, or {@code null}; never waits. */
  AppLink pickNow() {
    return pickNow(null);
  }

  /** As {@link #pickNow()}, for a connection from {@code client}; see {@link #pick}. */
  AppLink pickNow(InetAddress client) {
    lock.lock();
    try {
      return stopped ? null : choose(client);
    } finally {
      lock.unlock();
    }
  }

  private AppLink choose(InetAddress client) {
    if (!sticky || client == null) {
      return choose();
    }
    AppLink owner = null;
    long best = 0;
    for (AppLink link : links) {
      if (link.state() == AppLink.State.UP) {
        long score = score(client, link);
        if (owner == null || Long.compareUnsigned(score, best) > 0) {
          owner = link;
          best = score;
        }
      }
    }
    return owner != null && owner.canTake() ? owner : null;
  }

  /** Rendezvous hashing: the client's score for a link, the same in every proxy process. */
  static long score(InetAddress client, AppLink link) {
    long h = 0x9E3779B97F4A7C15L;
    for (byte b : client.getAddress()) {
      h = (h ^ (b & 0xff)) * 0x100000001B3L;
    }
    for (byte b : link.socket().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
      h = (h ^ (b & 0xff)) * 0x100000001B3L;
    }
    h ^= h >>> 33; // a final mix, so that one byte's difference moves every bit
    h *= 0xFF51AFD7ED558CCDL;
    h ^= h >>> 33;
    return h;
  }

  private AppLink choose() {
    AppLink best = null;
    int n = links.size();
    for (int i = 0; i < n; i++) {
      AppLink link = links.get((next + i) % n);
      if (link.canTake() && (best == null || better(link, best))) {
        best = link;
      }
    }
    next = (next + 1) % n;
    return best;
  }

  private static boolean better(AppLink link, AppLink than) {
    if (link.healthy() != than.healthy()) {
      return link.healthy();
    }
    return link.inFlight() < than.inFlight();
  }

  /**
   * No new links from now on, also for links that go down (the proxy is shutting down); the links
   * that are up stay up, and the maintenance thread still closes those that stop answering.
   */
  void stopLinking() {
    linking = false;
    for (AppLink link : links) {
      link.stopLinking();
    }
    signal();
  }

  /** Wakes a dispatcher waiting in {@link #pick}. */
  void signal() {
    lock.lock();
    try {
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Whether any link holds handoffs not yet answered. */
  boolean anyInFlight() {
    for (AppLink link : links) {
      if (link.inFlight() > 0) {
        return true;
      }
    }
    return false;
  }

  /** Stops connecting and makes {@link #pick} return {@code null}; the links stay open. */
  void stop() throws InterruptedException {
    stopLinking();
    stopped = true;
    signal();
    maintenance.interrupt();
    maintenance.join();
  }

  /** Closes every link; what is unanswered comes back through {@link LinkEvents}. */
  void close() {
    for (AppLink link : links) {
      link.close();
    }
  }

  private void maintain() {
    while (!stopped) {
      long now = System.nanoTime();
      for (AppLink link : links) {
        link.maintain(now);
      }
      try {
        Thread.sleep(MAINTENANCE_MS);
      } catch (InterruptedException e) {
        return;
      }
    }
  }
}
