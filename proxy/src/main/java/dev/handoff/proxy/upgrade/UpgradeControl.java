package dev.handoff.proxy.upgrade;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This process's part in proxy upgrades ({@code --control PATH}, {@code --take-over}), around its
 * listeners, whether one (PORT SOCKET) or several ({@code --config}): before they start, receives
 * the running proxy's listening sockets ({@link TakeOverClient}) or binds the control socket;
 * once they accept, tells the running proxy so, or opens the control socket for the next upgrade
 * ({@link ControlServer}).
 *
 * <p>Descriptors: this object owns and closes the control socket and the take-over link; the
 * listening sockets that {@link #prepare} returns are the caller's (each goes to its
 * {@link Listener}, which closes it).
 */
public final class UpgradeControl {
  private static final Logger log = LoggerFactory.getLogger(UpgradeControl.class);

  /** The control socket path, absolute; null without {@code --control}. */
  private final Path control;
  private final boolean takeOver;
  private final Set<Integer> uids;
  /** Called once this proxy has handed over to a new one: the process should exit 0. */
  private final Runnable handedOver;
  /** Told of each new proxy's control link. */
  private final ControlServer.Links links;
  private volatile boolean handed;
  private ListenerGroup listeners;
  private TakeOverClient predecessor;
  private ControlServer server;
  private boolean closed;

  public UpgradeControl(Path control, boolean takeOver, Set<Integer> uids, Runnable handedOver,
      ControlServer.Links links) {
    this.control = control == null ? null : control.toAbsolutePath();
    this.takeOver = takeOver;
    this.uids = uids;
    this.handedOver = () -> {
      handed = true;
      handedOver.run();
    };
    this.links = links;
  }

  /** Whether this proxy has handed over to a new one (which is systemd's main process now). */
  public boolean handedOver() {
    return handed;
  }

  /**
   * Before the listeners start. With {@code --take-over}: receives the running proxy's listening
   * sockets and gives each to the listener on its address; with {@code --control} alone: binds
   * the control socket (so that a bad path stops this proxy before it binds a port).
   *
   * @param servers the listeners, not started
   * @param anyIfOne see {@link TakeOverClient#assign}
   * @return per listener, the received socket to accept on (the caller's from now on), or null
   *     to bind afresh (always null without {@code --take-over})
   * @throws IOException if there is no running proxy to take over from, or it refused, or the
   *     control socket cannot be bound; nothing is left open then
   */
  public synchronized List<ServerSocketChannel> prepare(List<? extends Listener> servers, boolean anyIfOne)
      throws IOException {
    listeners = new ListenerGroup(servers);
    if (takeOver) {
      predecessor = TakeOverClient.begin(control);
      List<InetSocketAddress> wanted = new ArrayList<>();
      servers.forEach(s -> wanted.add(s.address()));
      return predecessor.assign(wanted, anyIfOne);
    }
    if (control != null) {
      server = ControlServer.bind(control, uids, listeners, handedOver, links);
    }
    return Collections.nCopies(servers.size(), null);
  }

  /**
   * Every listener accepts: with {@code --take-over}, tells the running proxy and binds the
   * control socket once it is done; otherwise starts serving the control socket.
   */
  public synchronized void started() {
    if (predecessor != null) {
      predecessor.accepting(this::afterTakeOver);
    } else if (server != null) {
      server.start();
    }
  }

  /** The take-over's link has ended: listens for the next upgrade, unless shutting down. */
  private synchronized void afterTakeOver() {
    if (closed || control == null) {
      return; // shutting down: no control socket to leave behind
    }
    try {
      server = ControlServer.bind(control, uids, listeners, handedOver, links);
      server.start();
    } catch (IOException e) {
      log.warn("no control socket, so no later take-over: {}", e.getMessage());
    }
  }

  /**
   * Closes the control socket (removing its file) and the take-over link; the running proxy, if
   * the take-over had not got as far as ACCEPTING, never stopped accepting. Called when this
   * proxy fails to start, and when it shuts down; safe to call more than once.
   */
  public synchronized void close() {
    closed = true;
    if (server != null) {
      server.close();
    }
    if (predecessor != null) {
      predecessor.close();
    }
  }
}
