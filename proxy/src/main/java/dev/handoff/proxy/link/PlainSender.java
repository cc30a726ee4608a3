package dev.handoff.proxy.link;

import dev.handoff.proxy.accept.AcceptedConnection;
import dev.handoff.proxy.accept.ProxyStats;
import dev.handoff.proxy.accept.WaitLimit;
import dev.handoff.common.Closeables;
import dev.handoff.common.Errors;
import dev.handoff.common.HandoffChannel;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code proxy --protocol plain}: hands connections to receivers that do not speak the handoff
 * protocol, the way a plain SCM_RIGHTS sender does (docs/PROTOCOL.md, "Plain mode"). Each connection
 * goes as one message, a single zero byte with its descriptor attached, and the proxy closes its
 * copy as soon as {@code sendmsg} returns: there is no acknowledgement, so no redelivery, no
 * RETRY and no window. Runs on its own thread, taking connections from the acceptor's queue; used
 * instead of the {@link Dispatcher} and its links, which it shares only the {@link SendLoop}
 * with.
 *
 * <p>One link per app socket, made with the same backoff ({@code --retry-min}, {@code
 * --retry-max}) and peer-credential check ({@code --app-uid}) as a protocol link. A receiver
 * sends nothing, so a thread per link reads only to see it go away; then the link is made again.
 * A connection whose {@code sendmsg} failed was not delivered (the kernel took neither the byte
 * nor the descriptor) and goes to the next link, within {@code --queue-wait} of its accept.
 */
public final class PlainSender implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(PlainSender.class);

  private final BlockingQueue<AcceptedConnection> queue;
  private final ProxyStats stats;
  private final WaitLimit wait;
  private final LinkOptions options;
  private final Set<Integer> allowedUids;
  private final List<Link> links = new ArrayList<>();
  private int next;

  /** A sender to the receivers at {@code sockets}. */
  public PlainSender(BlockingQueue<AcceptedConnection> queue, ProxyStats stats, LinkOptions config,
      List<Path> sockets) {
    this.queue = queue;
    this.stats = stats;
    this.wait = new WaitLimit(config.queueWait(), stats, "a plain receiver");
    this.options = config;
    this.allowedUids = config.appUids();
    for (Path socket : sockets) {
      links.add(new Link(socket));
    }
  }

  /** Sends what is queued within {@code grace}, then returns; the acceptor is stopped first. */
  public void drain(Duration grace) {
    wait.drain(grace);
  }

  @Override
  public void run() {
    new SendLoop(wait, this::next, () -> true, this::attempt).run();
  }

  /** Links what is due to be linked again, then waits on the queue. */
  private AcceptedConnection next(long millis) throws InterruptedException {
    maintain();
    return queue.poll(millis, TimeUnit.MILLISECONDS);
  }

  /** Closes what is still queued and the links; call after {@link #run} returned. */
  public void close() {
    AcceptedConnection conn;
    while ((conn = queue.poll()) != null) {
      stats.droppedShutdown.increment();
      conn.close();
    }
    for (Link link : links) {
      link.close();
    }
  }

  /** For the status line. */
  public String describeLinks() {
    StringBuilder line = new StringBuilder();
    for (Link link : links) {
      line.append(line.length() == 0 ? "" : ", ").append(link.socket)
          .append(link.channel != null ? " UP (plain)" : " DOWN");
    }
    return line.toString();
  }

  /**
   * The next linked receiver, round robin; with none, waits for the next attempt to link one.
   * A failed {@code sendmsg} delivered nothing: the connection goes to the next link.
   */
  private SendLoop.Attempt attempt(AcceptedConnection conn, long deadline)
      throws InterruptedException {
    Link link = pick();
    if (link == null) {
      awaitNextAttempt(deadline);
      maintain();
      return SendLoop.Attempt.AGAIN;
    }
    HandoffChannel ch = link.channel;
    if (ch == null) {
      return SendLoop.Attempt.AGAIN;
    }
    try {
      ch.sendPlain(conn.descriptor());
    } catch (IOException e) {
      link.lost(ch, "send failed: " + Errors.describe(e));
      return SendLoop.Attempt.AGAIN; // not delivered: the next link, or this one again once back
    }
    stats.sent.increment();
    log.debug("{}: sent to {} (plain); closing the proxy's copy", conn, link.socket);
    conn.close();
    return SendLoop.Attempt.SENT;
  }

  /** The next linked receiver, round robin; null if none is linked. */
  private Link pick() {
    for (int i = 0; i < links.size(); i++) {
      Link link = links.get((next + i) % links.size());
      if (link.channel != null) {
        next = (next + i + 1) % links.size();
        return link;
      }
    }
    return null;
  }

  /**
   * No receiver is linked: waits until the earliest next attempt to link one is due, or until
   * {@code deadline}, the waiting connection's. Only this thread links, so nothing else can
   * bring a receiver sooner.
   */
  private void awaitNextAttempt(long deadline) throws InterruptedException {
    long wake = deadline;
    for (Link link : links) {
      if (link.nextAttemptNanos - wake < 0) {
        wake = link.nextAttemptNanos;
      }
    }
    long nanos = wake - System.nanoTime();
    if (nanos > 0) {
      TimeUnit.NANOSECONDS.sleep(nanos);
    }
  }

  private void maintain() {
    long now = System.nanoTime();
    for (Link link : links) {
      if (link.channel == null && now - link.nextAttemptNanos >= 0) {
        link.connect();
      }
    }
  }

  /** One receiver's socket and the link to it, if any. */
  private final class Link {
    final Path socket;
    volatile HandoffChannel channel;
    volatile long nextAttemptNanos;
    final Backoff backoff = new Backoff(options.retryMin(), options.retryMax());
    boolean reportedDown;
    volatile boolean closed;

    Link(Path socket) {
      this.socket = socket;
    }

    void connect() {
      HandoffChannel ch;
      try {
        ch = HandoffChannel.connect(socket);
      } catch (IOException e) {
        backOff("plain receiver not reachable: " + Errors.describe(e));
        return;
      }
      String peer;
      try {
        peer = ChannelTransport.allowedPeer(ch, socket, allowedUids, "receiver");
      } catch (IOException e) {
        backOff(e.getMessage()); // closed
        return;
      }
      backoff.reset();
      reportedDown = false;
      channel = ch;
      Thread watcher = new Thread(() -> watch(ch), "plain-" + socket.getFileName());
      watcher.setDaemon(true);
      watcher.start();
      log.info("linked to plain receiver at {} ({}): one descriptor per message, no"
          + " acknowledgements", socket, peer);
    }

    /** A plain receiver sends nothing: reading ends when it goes away. */
    private void watch(HandoffChannel ch) {
      String cause = "it closed the link";
      try {
        ch.awaitEnd();
      } catch (IOException e) {
        cause = Errors.describe(e);
      }
      if (!closed) {
        lost(ch, cause);
      }
    }

    synchronized void lost(HandoffChannel ch, String cause) {
      if (channel != ch) {
        return; // already replaced
      }
      channel = null;
      Closeables.closeQuietly(ch);
      log.warn("plain receiver at {} went away ({}); linking again with backoff", socket, cause);
      nextAttemptNanos = System.nanoTime() + backoff.minNanos();
    }

    void close() {
      closed = true;
      HandoffChannel ch = channel;
      channel = null;
      Closeables.closeQuietly(ch);
    }

    private void backOff(String why) {
      nextAttemptNanos = System.nanoTime() + backoff.next();
      if (!reportedDown) {
        log.warn("{}; retrying with backoff up to {} ms", why,
            TimeUnit.NANOSECONDS.toMillis(backoff.maxNanos()));
        reportedDown = true;
      } else {
        log.debug("{}", why);
      }
    }
  }
}
