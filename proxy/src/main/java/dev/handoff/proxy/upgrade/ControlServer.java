package dev.handoff.proxy.upgrade;

import dev.handoff.common.Closeables;
import dev.handoff.cli.SystemdNotify;
import dev.handoff.common.Errors;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running proxy's side of an upgrade ({@code --control PATH}; docs/PROTOCOL.md, "Upgrading the
 * proxy"): listens on a unix socket for a proxy started with {@code --take-over}, passes it every
 * listening socket, one LISTENER message each, stops accepting on all of them once it says it
 * accepts, and, once this proxy holds no connection any more, says DONE and asks the process to
 * exit 0, having told systemd (sd_notify {@code MAINPID=}, when {@code $NOTIFY_SOCKET} is set) that
 * the new proxy is the service's main process now. If the new proxy goes away
 * before DONE, this proxy keeps (or resumes) accepting and waits for the next one. One take-over at
 * a time: a second new proxy waits in the socket's backlog until the first one's exchange is over.
 *
 * <p>Descriptors: the listening sockets stay the listeners' (sent, never closed here);
 * this class owns and closes the control socket and each accepted link.
 */
public final class ControlServer implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(ControlServer.class);
  private static final long SETTLE_POLL_MS = 20;
  /** How long a new proxy may take to answer DONE; then this one accepts again. */
  private static final long RELEASE_TIMEOUT_S = 10;

  private final Path path;
  private final Set<Integer> uids;
  private final ListenerGroup listeners;
  /** Called once this proxy has handed over and said DONE: the process should exit 0. */
  private final Runnable handedOver;
  /** Told of every new proxy's control link, by pid (see {@link Reloader}). */
  private final Links links;
  private final AFUNIXServerSocketChannel server;
  private volatile boolean closed;
  /** {@link #close} was called: the proxy is shutting down. */
  private volatile boolean shutdown;
  private volatile ControlLink current;
  private Thread thread;

  /** What a caller learns of the new proxies' control links (the {@link Reloader}'s successor). */
  public interface Links {
    Links NONE = new Links() {
      @Override
      public void linked(long pid) { }

      @Override
      public void abandoned(long pid) { }
    };

    /** A link from {@code pid} was accepted (from an allowed uid). */
    void linked(long pid);

    /** The take-over by {@code pid} ended without a handover: this proxy serves on. */
    void abandoned(long pid);
  }

  private ControlServer(Path path, Set<Integer> uids, ListenerGroup listeners, Runnable handedOver,
      Links links, AFUNIXServerSocketChannel server) {
    this.path = path;
    this.uids = uids;
    this.listeners = listeners;
    this.handedOver = handedOver;
    this.links = links;
    this.server = server;
  }

  /**
   * Binds the control socket at {@code path} (mode 0600), removing a stale socket file; a live
   * one (another proxy listens there) or a path that is not a socket is refused.
   */
  static ControlServer bind(Path path, Set<Integer> uids, ListenerGroup listeners,
      Runnable handedOver, Links links) throws IOException {
    removeIfStale(path);
    AFUNIXServerSocketChannel server = AFUNIXServerSocketChannel.open();
    try {
      server.bind(AFUNIXSocketAddress.of(path));
      Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
    } catch (IOException | RuntimeException e) {
      server.close();
      throw new IOException("control socket " + path + ": " + Errors.describe(e), e);
    }
    return new ControlServer(path, uids, listeners, handedOver, links, server);
  }

  private static void removeIfStale(Path path) throws IOException {
    if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    if (!"s".equals(fileType(path))) {
      throw new IOException("control socket " + path + " exists and is not a socket; not touched");
    }
    try (AFUNIXSocketChannel probe = AFUNIXSocketChannel.open()) {
      probe.connect(AFUNIXSocketAddress.of(path));
      throw new IOException("control socket " + path + ": a proxy is listening there already"
          + " (to replace it, start this one with --take-over)");
    } catch (java.net.SocketException e) {
      log.info("removing stale control socket {} ({})", path, e.getMessage());
      Files.deleteIfExists(path);
    }
  }

  private static String fileType(Path path) throws IOException {
    Object socket = Files.readAttributes(path, "unix:mode", LinkOption.NOFOLLOW_LINKS)
        .get("mode");
    int mode = (Integer) socket;
    return (mode & 0170000) == 0140000 ? "s" : "other";
  }

  void start() {
    thread = new Thread(this, "control");
    thread.setDaemon(true);
    thread.start();
    log.info("control socket {} ready for a proxy started with --take-over", path);
  }

  @Override
  public void run() {
    while (!closed) {
      AFUNIXSocketChannel accepted;
      try {
        accepted = server.accept();
      } catch (ClosedChannelException e) {
        break;
      } catch (IOException e) {
        if (closed) {
          break;
        }
        log.warn("control socket {}: accept failed: {}", path, Errors.describe(e));
        sleep(100);
        continue;
      }
      if (accepted == null) {
        continue;
      }
      try {
        if (serve(accepted)) {
          return; // handed over: this proxy exits
        }
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  /** One take-over attempt; returns whether it succeeded. Every path closes the link. */
  private boolean serve(AFUNIXSocketChannel accepted) throws InterruptedException {
    String peer;
    int pid;
    try {
      AFUNIXSocketCredentials creds = accepted.getPeerCredentials();
      if (creds == null) {
        throw new IOException("the kernel gave none"); // junixsocket may return null
      }
      pid = (int) creds.getPid();
      peer = "pid " + pid + " uid " + creds.getUid();
      if (!uids.contains((int) creds.getUid())) {
        log.warn("control link from {} refused: uid {} is not allowed {}", peer,
            creds.getUid(), uids);
        Closeables.closeQuietly(accepted);
        return false;
      }
    } catch (IOException | RuntimeException e) {
      log.warn("control link: cannot read the peer's credentials: {}", Errors.describe(e));
      Closeables.closeQuietly(accepted);
      return false;
    }
    ControlLink link;
    try {
      link = ControlLink.accepted(accepted, peer);
    } catch (IOException | RuntimeException e) {
      log.warn("control link from {}: {}", peer, Errors.describe(e));
      return false;
    }
    current = link;
    links.linked(pid);
    boolean handed = false;
    try {
      handed = exchange(link, pid);
      return handed;
    } finally {
      current = null;
      link.close();
      if (!handed) {
        links.abandoned(pid);
      }
    }
  }

  private boolean exchange(ControlLink link, int pid) throws InterruptedException {
    String peer = link.peer();
    try {
      ControlLink.Message hello = link.receive();
      if (hello == null || hello.type() != ControlLink.Type.HELLO) {
        log.warn("control link from {}: expected HELLO, got {}; closed", peer,
            hello == null ? "the end of the link" : hello.type());
        return false;
      }
      List<? extends Listener> servers = listeners.servers();
      log.info("take-over requested by {} (a new proxy): passing on {} listening socket{}", peer,
          servers.size(), servers.size() == 1 ? "" : "s");
      for (int i = 0; i < servers.size(); i++) {
        Listener server = servers.get(i);
        link.send(ControlLink.Type.LISTENER,
            new ListenerValue(server.listenerPort(), i, servers.size()).encode(),
            server.listenerDescriptor());
      }
      ControlLink.Message accepting = link.receive();
      if (accepting == null || accepting.type() != ControlLink.Type.ACCEPTING) {
        log.warn("take-over by {} abandoned before it accepted ({}): still accepting here", peer,
            accepting == null ? "the link ended" : "it sent " + accepting.type());
        return false;
      }
    } catch (IOException e) {
      log.warn("take-over by {} abandoned before it accepted ({}): still accepting here", peer,
          Errors.describe(e));
      return false;
    }
    // The new proxy accepts: both accept from the same kernel queue until this one stops.
    java.util.concurrent.CompletableFuture<ControlLink.Message> next =
        new java.util.concurrent.CompletableFuture<>();
    Thread watcher = new Thread(() -> {
      try {
        next.complete(link.receive());
      } catch (IOException e) {
        log.debug("control link from {} failed: {}", peer, Errors.describe(e));
        next.complete(null);
      }
    }, "control-watch");
    watcher.setDaemon(true);
    watcher.start();
    try {
      listeners.stopAccepting();
    } catch (IOException e) {
      log.error("cannot stop accepting for the take-over by {}: {}; still accepting here", peer,
          Errors.describe(e));
      return false;
    }
    while (!listeners.settled() && !next.isDone() && !shutdown) {
      Thread.sleep(SETTLE_POLL_MS);
    }
    if (next.isDone() || shutdown) {
      return resume(peer, describe(next.getNow(null), "before this proxy was done"));
    }
    // Nothing held here any more: the port can be the new proxy's alone.
    try {
      link.send(ControlLink.Type.DONE, 0, null);
    } catch (IOException e) {
      log.warn("could not tell {} that this proxy is done: {}", peer, Errors.describe(e));
      return resume(peer, "its control link ended before it heard DONE");
    }
    ControlLink.Message release;
    try {
      release = next.get(RELEASE_TIMEOUT_S, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      return resume(peer, "it did not answer DONE within " + RELEASE_TIMEOUT_S + " s");
    } catch (java.util.concurrent.ExecutionException e) {
      release = null;
    }
    if (release == null || release.type() != ControlLink.Type.RELEASE) {
      return resume(peer, describe(release, "after DONE, before its RELEASE"));
    }
    log.info("handed over to {}: every connection accepted here is settled; exiting", peer);
    SystemdNotify.mainPid(pid); // before this main process exits: systemd follows the new one
    // The socket file goes before the link ends: the new proxy binds the path once it sees the end.
    closeServer();
    handedOver.run();
    return true;
  }

  private static String describe(ControlLink.Message m, String when) {
    return m == null ? "its control link ended " + when
        : "it sent " + m.type() + " " + when + " (not the protocol)";
  }

  private boolean resume(String peer, String why) {
    if (shutdown) {
      return false; // this proxy is shutting down anyway
    }
    log.warn("the proxy taking over ({}) went away: {}; accepting again", peer, why);
    listeners.resumeAccepting(); // logs each listener that cannot
    return false;
  }

  /** Stops listening for take-overs and removes the socket file; safe to call more than once. */
  void close() {
    shutdown = true;
    closeServer();
    ControlLink link = current;
    if (link != null) {
      link.close();
    }
  }

  private synchronized void closeServer() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      Files.deleteIfExists(path);
    } catch (IOException e) {
      log.warn("removing control socket {}: {}", path, e.getMessage());
    }
    Closeables.closeQuietly(server);
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
