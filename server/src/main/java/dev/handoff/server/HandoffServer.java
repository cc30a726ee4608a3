package dev.handoff.server;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Closeables;
import dev.handoff.common.Errors;
import dev.handoff.common.HandoffChannel;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.HandoffLink;
import dev.handoff.server.ConnectionDetacher.Detached;
import io.netty.channel.IoEventLoop;
import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running receiver of handed-off connections, made by {@link HandoffServerBootstrap#bind} or
 * {@link HandoffServerBootstrap#takeOver}: it accepts proxy links on its unix socket (each read
 * on an event loop, without a thread of its own), checks each link's peer, validates each message,
 * gives each connection to the child handler on an event loop, and answers the proxy.
 *
 * <p>Lifecycle, in order: {@link #stopTakingHandoffs()} (the socket file goes, proxies are told
 * CLOSING and send new connections elsewhere; connections already here go on), {@link
 * #awaitDrained(Duration)} (wait for them to end, up to a deadline), {@link #close()} (close what
 * is left). {@code close()} alone does all three without waiting. Each is safe to call again.
 *
 * <p>When a successor takes over (it runs {@link HandoffServerBootstrap#takeOver} on the same
 * path), this server hands it every connection whose state can move and then completes {@link
 * #handedOver()}: the process should then stop as above, letting the connections that stayed
 * finish. If the successor fails, this server serves everything again and takes handoffs as before.
 */
public final class HandoffServer implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(HandoffServer.class);

  private final ServerConfig config;
  private final Engine engine;
  private final Map<HandoffLink, Reading> links = new ConcurrentHashMap<>();
  private final AtomicInteger linkSeq = new AtomicInteger();
  private final ServerStats stats;
  private final CompletableFuture<Void> handedOver = new CompletableFuture<>();
  private UnixListener listener;
  private Thread acceptor;
  private volatile boolean stopping;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();
  /** A successor is taking over from this app. */
  private final AtomicBoolean handingOver = new AtomicBoolean();
  /** The connections a take-over moved here, given to the engine a slice at a time; or null. */
  private volatile MovedIn movedIn;

  HandoffServer(ServerConfig config, Engine engine) {
    this.config = config;
    this.stats = new ServerStats();
    this.engine = engine;
    if (config.meterRegistry() != null) {
      stats.publishTo(MicrometerMeters.register(config.meterRegistry(), config.socket(), stats,
          engine::liveConnections, config.maxConnections(), links::size));
    }
  }

  /**
   * Binds the socket and starts accepting links.
   *
   * @param predecessor when taking over, the link to the app that ran before, which has freed the
   *     socket path and will send its connections on this link; this server owns it from now on
   */
  void start(Successor.Predecessor predecessor) throws IOException {
    try {
      listener = UnixListener.bind(config.socket(), config.socketMode(), config.maxLinks());
    } catch (IOException e) {
      engine.close();
      if (predecessor != null) {
        Closeables.closeQuietly(predecessor.link());
      }
      throw e;
    }
    if (predecessor != null) {
      // Bound: the previous app moves its connections here, and they are served from its COMMIT
      // on (docs/PROTOCOL.md); proxy links are taken only then, so that a rollback cuts nothing.
      try {
        movedIn = Successor.receiveMoved(predecessor, engine, config.maxConnections(),
            listener, config.readiness(), stats.migratedIn);
      } catch (IOException | RuntimeException e) {
        engine.close(); // the path was freed already, before the link closed
        throw e;
      }
    }
    if (movedIn != null) {
      movedIn.start(engine.later()); // the first slice now, the rest between turns of I/O
    }
    log.info("listening on {} for proxy links (at most {} connections)", config.socket(),
        config.maxConnections());
    acceptor = new Thread(this::acceptLinks, "link-acceptor");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** Whether {@link #stopTakingHandoffs} has not been called (or a failed take-over undid it). */
  boolean takingHandoffs() {
    return !stopping;
  }

  /** The unix socket this server listens on. */
  public Path socket() {
    return config.socket();
  }

  /** The engine that serves the connections (for the tests of what a take-over asks of it). */
  Engine engine() {
    return engine;
  }

  /** Handed-off connections being served now. */
  public int liveConnections() {
    return engine.liveConnections();
  }

  /**
   * Completes once a successor has taken over: every connection that could move has moved, and
   * the socket path is the successor's. Completes exceptionally if this server's listening socket
   * was closed under it (no proxy can link any more). Either way the process should now stop:
   * {@link #awaitDrained} for the connections that stayed, then {@link #close()}.
   */
  public CompletionStage<Void> handedOver() {
    return handedOver.minimalCompletionStage();
  }

  /**
   * Stops taking handoffs: closes the listening socket and removes the socket file (if it is
   * still this server's), answers CLOSING on every proxy link so that proxies send new connections
   * elsewhere at once, and lets each link's reader adopt and answer what its proxy had already
   * sent. Connections already here go on. Safe to call again.
   */
  public void stopTakingHandoffs() throws InterruptedException {
    stopTakingHandoffs(null);
  }

  /**
   * Waits until every connection has ended by itself, or {@code deadline} has passed.
   *
   * @return the connections still open
   */
  public int awaitDrained(Duration deadline) throws InterruptedException {
    return engine.awaitIdle(deadline);
  }

  /**
   * Completes once {@link #close()} has closed everything: the links, the connections, and the
   * event loops the bootstrap made.
   */
  public CompletionStage<Void> closeFuture() {
    return closeFuture.minimalCompletionStage();
  }

  /**
   * Stops taking handoffs, closes every link and every connection still open, and stops the
   * event loops if the bootstrap made them. Safe to call again and from several threads at once:
   * one call closes, and every call returns once all is closed.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      closeFuture.join();
      return;
    }
    try {
      closeOnce();
    } finally {
      closeFuture.complete(null);
    }
  }

  private void closeOnce() {
    try {
      stopTakingHandoffs(null);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (Map.Entry<HandoffLink, Reading> link : links.entrySet()) {
      link.getValue().end(link.getKey());
    }
    if (movedIn != null) {
      movedIn.close(); // those not given to the engine yet
    }
    engine.close();
    log.debug("closed: {}", summary());
  }

  /**
   * Stops accepting links and removes the socket file (if it is still this app's); then lets each
   * link's reader adopt and answer what its proxy already sent, until the proxy, whose sends now
   * fail, closes the link. Safe to call again.
   *
   * @param except a link to leave alone (the successor's, during a take-over)
   */
  synchronized void stopTakingHandoffs(HandoffLink except) throws InterruptedException {
    if (!stopping) {
      stopping = true;
      // The acceptor is woken with a connection of our own before the socket is closed: closing
      // a junixsocket server socket under a blocked accept makes it connect to itself, and that
      // socket, refused once the listener is shut, stays open until a collection.
      if (listener.wakeAccept()) {
        acceptor.join(TimeUnit.SECONDS.toMillis(5));
      }
      try {
        listener.close();
      } catch (IOException e) {
        log.warn("closing {}: {}", config.socket(), e.getMessage());
      }
      acceptor.join();
    }
    for (Map.Entry<HandoffLink, Reading> link : links.entrySet()) {
      if (link.getKey() == except) {
        continue;
      }
      try {
        // CLOSING first: once input is shut, the link's reader may reach its end and close it.
        link.getKey().sendAck(new Acknowledgement(0, Acknowledgement.Status.CLOSING));
        link.getKey().shutdownInput();
      } catch (IOException e) {
        link.getValue().end(link.getKey());
      }
    }
    for (Map.Entry<HandoffLink, Reading> link : links.entrySet()) {
      if (link.getKey() != except) {
        link.getValue().await(TimeUnit.SECONDS.toMillis(5));
      }
    }
  }

  /**
   * One line on the state of things (handoffs adopted, migrated in and refused, live connections,
   * links, the handoff latency): for a status signal or a shutdown log.
   */
  public String summary() {
    return "adopted=" + stats.adopted.sum() + " migrated-in=" + stats.migratedIn.sum()
        + " refused=" + stats.refused.sum() + " live=" + engine.liveConnections()
        + " links=" + links.size()
        + "; handoff latency, accept to adopted: " + stats.latency.summary();
  }

  private void acceptLinks() {
    while (true) {
      AFUNIXSocketChannel accepted;
      try {
        accepted = listener.accept();
        if (stopping) {
          Closeables.closeQuietly(accepted); // the wake-up, or a proxy that links again later
          return;
        }
      } catch (IOException e) {
        if (stopping) {
          return;
        }
        if (e instanceof ClosedChannelException) {
          log.error("the listening socket {} was closed; no more proxies can link", config.socket());
          handedOver.completeExceptionally(new IOException("the listening socket "
              + config.socket() + " was closed; no more proxies can link"));
          return;
        }
        log.warn("accepting a link on {}: {}", config.socket(), e.getMessage());
        sleepQuietly(100);
        continue;
      }
      startReader(accepted);
    }
  }

  private void startReader(AFUNIXSocketChannel accepted) {
    int n = linkSeq.incrementAndGet();
    AFUNIXSocketCredentials creds;
    try {
      creds = accepted.getPeerCredentials();
      if (creds == null) {
        throw new IOException("the kernel gave none");
      }
    } catch (IOException | RuntimeException e) {
      log.warn("refusing link proxy#{}: no peer credentials ({})", n, Errors.describe(e));
      Closeables.closeQuietly(accepted);
      return;
    }
    String peer = "proxy#" + n + " (pid " + creds.getPid() + ", uid " + creds.getUid() + ")";
    if (!config.allowedUids().contains((int) creds.getUid())) {
      log.warn("refusing link from {}: uid {} is not allowed {}", peer, creds.getUid(),
          config.allowedUids());
      Closeables.closeQuietly(accepted);
      return;
    }
    if (links.size() >= config.maxLinks()) {
      log.warn("refusing link from {}: already {} links", peer, links.size());
      Closeables.closeQuietly(accepted);
      return;
    }
    HandoffChannel link;
    try {
      link = HandoffChannel.accepted(accepted, peer, config.acceptPlain());
    } catch (IOException e) {
      log.warn("refusing link from {}: {}", peer, Errors.describe(e));
      return;
    }
    startReader(link, peer);
  }

  /**
   * How one link is read: on an event loop ({@code poller}), or by a thread of its own ({@code
   * poller} null); {@code ended} completes once the reading is over and the link closed or handed
   * over.
   */
  private record Reading(CompletableFuture<Void> ended, LinkPoller poller) {
    /** Ends the reading now: closes the link (through its loop if it is read on one). */
    void end(HandoffLink link) {
      if (poller != null) {
        poller.shutdown();
      } else {
        Closeables.closeQuietly(link);
      }
    }

    void await(long millis) throws InterruptedException {
      try {
        ended.get(millis, TimeUnit.MILLISECONDS);
      } catch (ExecutionException | TimeoutException e) {
        // over or not, the caller carries on
      }
    }
  }

  /**
   * Reads a link from now on: on an event loop, the one that will serve most of the connections
   * it brings; on a thread of its own when the engine has no epoll loop.
   */
  private void startReader(HandoffLink link, String peer) {
    log.info("link from {} up", peer);
    CompletableFuture<Void> ended = new CompletableFuture<>();
    Runnable onClose = () -> {
      links.remove(link);
      ended.complete(null);
    };
    LinkReader reader = new LinkReader(link, engine, stats, config.maxConnections(),
        this::handOver, onClose);
    IoEventLoop loop = engine.linkLoop();
    if (loop != null && link instanceof HandoffChannel channel) {
      try {
        LinkPoller poller = LinkPoller.of(channel, reader, loop);
        links.put(link, new Reading(ended, poller));
        poller.start();
        return;
      } catch (IOException e) {
        links.remove(link);
        log.warn("link from {}: cannot read it on an event loop ({}); reading it on a thread",
            peer, Errors.describe(e));
      }
    }
    Thread thread = new Thread(reader, "link-" + linkSeq.get());
    thread.setDaemon(true);
    links.put(link, new Reading(ended, null));
    thread.start();
  }

  /**
   * A successor asked, on {@code link}, to take over: hand everything to it, then stop. One
   * take-over at a time: a second successor is answered REJECTED. (An app taking over accepts no
   * link before its own take-over is committed, so a successor that asks it meanwhile waits.)
   */
  private void handOver(HandoffLink link, HandoffHeader request) {
    if (!handingOver.compareAndSet(false, true)) {
      log.warn("{} asks to take over, but a take-over is under way; refused", link.peer());
      try {
        link.sendAck(new Acknowledgement(0, Acknowledgement.Status.REJECTED));
      } catch (IOException e) {
        // it went away: nothing to tell it
      }
      Closeables.closeQuietly(link);
      return;
    }
    boolean twoPhase = request.connectionId() == Successor.TWO_PHASE;
    int copiesPerMessage = twoPhase && (request.acceptedAtMicros() & Successor.READS_BATCHES) != 0
        ? Handover.COPIES_PER_MESSAGE : 1;
    Thread t = new Thread(new Handover(link, twoPhase, handoverSite(),
        () -> handedOver.complete(null), config.handOverTimeout(), Handover.PAUSE_AHEAD,
        copiesPerMessage), "handover");
    t.setDaemon(true);
    t.start();
  }

  /** This app as a hand-over sees it. */
  private HandoverSite handoverSite() {
    return new HandoverSite() {
      @Override
      public void stopTakingHandoffs(HandoffLink except) throws InterruptedException {
        HandoffServer.this.stopTakingHandoffs(except);
      }

      @Override
      public boolean resumeTakingHandoffs() {
        return HandoffServer.this.resumeTakingHandoffs();
      }

      @Override
      public List<Supplier<CompletableFuture<Detached>>> movable() {
        return engine.movable(config.stateless());
      }

      @Override
      public List<DescriptorCopy> copies() throws InterruptedException {
        CompletableFuture<List<DescriptorCopy>> copying = engine.copies(config.stateless());
        if (copying == null) {
          return null;
        }
        try {
          return copying.get();
        } catch (InterruptedException e) {
          copying.thenAccept(copies -> copies.forEach(DescriptorCopy::close)); // nobody's else
          throw e;
        } catch (java.util.concurrent.ExecutionException e) {
          log.warn("cannot copy the connections' descriptors ({}); moving them one at a time",
              Errors.describe(e.getCause()));
          return null;
        }
      }

      @Override
      public List<CompletableFuture<Detached>> pause(List<DescriptorCopy> copies) {
        return ConnectionDetacher.detachAll(
            copies.stream().map(DescriptorCopy::channel).toList(), config.stateless());
      }

      @Override
      public void resume(Detached connection) {
        engine.resume(connection);
      }

      @Override
      public void release(Detached connection) {
        engine.release(connection); // close(2) on this copy; the successor's stays connected
      }
    };
  }

  /**
   * After a take-over that did not complete: binds the socket path again (if the successor
   * never bound it, or died and left it stale) and takes handoffs as before; proxies re-link by
   * themselves.
   *
   * @return whether this app is taking handoffs again; false if another process now accepts on
   *     the path (a successor that is alive keeps it)
   */
  synchronized boolean resumeTakingHandoffs() {
    if (closed.get()) {
      return false;
    }
    try {
      listener = UnixListener.bind(config.socket(), config.socketMode(), config.maxLinks());
    } catch (IOException e) {
      log.error("cannot bind {} again: {}", config.socket(), Errors.describe(e));
      handingOver.set(false);
      return false;
    }
    stopping = false;
    acceptor = new Thread(this::acceptLinks, "link-acceptor");
    acceptor.setDaemon(true);
    acceptor.start();
    handingOver.set(false);
    log.info("serving everything here again: listening on {} for proxy links ({} connections"
        + " open)", config.socket(), engine.liveConnections());
    return true;
  }

  private static void sleepQuietly(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
