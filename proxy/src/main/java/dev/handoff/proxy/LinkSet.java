package dev.handoff.proxy;

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
 */
final class LinkSet {
  private static final long MAINTENANCE_MS = 20;

  private final List<AppLink> links;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final Thread maintenance;
  private volatile boolean stopped;
  private volatile boolean linking = true;
  private int next;

  LinkSet(List<AppLink> links) {
    this.links = links;
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
    lock.lock();
    try {
      while (!stopped) {
        AppLink best = choose();
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
    lock.lock();
    try {
      return stopped ? null : choose();
    } finally {
      lock.unlock();
    }
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
