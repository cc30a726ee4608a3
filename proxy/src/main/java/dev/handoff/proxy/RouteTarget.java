package dev.handoff.proxy;

import dev.handoff.proxy.route.RouteSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.LongAdder;

/**
 * One route at run time: its queue of connections waiting for an app, its {@link Dispatcher} and
 * its {@link LinkSet} of {@link AppLink}s, one per app socket of the route, with today's spreading
 * and acknowledgements. A proxy without {@code --route} has exactly one, the default route. Holds
 * a connection between {@link #offer} and the app's answer, as the queue and links always did.
 */
final class RouteTarget {
  final String name;
  final BlockingQueue<AcceptedConnection> queue;
  final LinkSet links;
  final Dispatcher dispatch;
  /** Connections given to this route. */
  final LongAdder routed = new LongAdder();
  private Thread thread;

  RouteTarget(RouteSpec spec, ProxyConfig config, ProxyStats stats,
      ScheduledExecutorService timer) {
    this.name = spec.name();
    this.queue = new ArrayBlockingQueue<>(config.queueSize());
    List<AppLink> appLinks = new ArrayList<>();
    this.links = new LinkSet(appLinks, config.sticky());
    this.dispatch = new Dispatcher(queue, links, stats, config.queueWait(), config.holdCopy(),
        timer);
    // The links report to the dispatcher, which picks among them: filled in before any start.
    for (Path socket : spec.sockets()) {
      appLinks.add(new AppLink(socket.toAbsolutePath(), dispatch, stats, config));
    }
  }

  /** Starts the links' maintenance and the dispatcher's thread. */
  void start() {
    links.start();
    thread = new Thread(dispatch, name.equals("default") ? "dispatcher"
        : "dispatcher-" + name);
    thread.setDaemon(true);
    thread.start();
  }

  /**
   * Takes a connection routed here: sent at once if a link can take it, else queued. Never waits.
   *
   * @return false if the queue is full; the caller still owns the connection then
   */
  boolean offer(AcceptedConnection conn) {
    routed.increment();
    return dispatch.trySendNow(conn) || queue.offer(conn);
  }

  /** The dispatcher's thread; null before {@link #start}. */
  Thread thread() {
    return thread;
  }

  /** Number of this route's links that are up. */
  long linksUp() {
    return links.links().stream().filter(a -> a.state() == AppLink.State.UP).count();
  }
}
