package dev.handoff.proxy.link;

import dev.handoff.proxy.accept.ProxyStats;
import dev.handoff.proxy.accept.AcceptedConnection;
import dev.handoff.proxy.route.RouteDestination;
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
public final class RouteTarget implements RouteDestination {
  final String name;
  public final BlockingQueue<AcceptedConnection> queue;
  final LinkSet links;
  final Dispatcher dispatch;
  /** Connections given to this route. */
  final LongAdder routed = new LongAdder();
  private Thread thread;

  public RouteTarget(RouteSpec spec, LinkOptions config, ProxyStats stats,
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
  public void start() {
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
  @Override
  public boolean offer(AcceptedConnection conn) {
    routed.increment();
    return dispatch.trySendNow(conn) || queue.offer(conn);
  }

  /**
   * Sends a connection at once if a link can take it (see {@link Dispatcher#trySendNow}); unlike
   * {@link #offer}, not counted as routed: for the acceptor of a proxy without routes.
   */
  public boolean trySendNow(AcceptedConnection conn) {
    return dispatch.trySendNow(conn);
  }

  /** The route's links to its apps. */
  public List<AppLink> links() {
    return links.links();
  }

  /** Sends what is queued on the links that are up, within {@code grace}; see Dispatcher. */
  public void drain(java.time.Duration grace) {
    dispatch.drain(grace);
  }

  /** No new links from here on. */
  public void stopLinking() {
    links.stopLinking();
  }

  /** Waits for the dispatcher's thread to end. */
  public void join() throws InterruptedException {
    thread.join();
  }

  /** Stops the links' maintenance and closes the links. */
  public void closeLinks() throws InterruptedException {
    links.stop();
    links.close();
  }

  /** Closes what the dispatcher still holds after the links are closed. */
  public void closeLeftovers() {
    dispatch.closeLeftovers();
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public int waiting() {
    return queue.size();
  }

  @Override
  public long routed() {
    return routed.sum();
  }

  @Override
  public long linksUp() {
    return links.links().stream().filter(a -> a.state() == AppLink.State.UP).count();
  }
}
