package dev.handoff.jetty;

import dev.handoff.common.Closeables;
import dev.handoff.server.AcceptedConnections;
import dev.handoff.server.HandedOffChannel;
import dev.handoff.server.HandoffAcceptor;
import dev.handoff.server.HandoffServerBootstrap;
import dev.handoff.server.Handoff;
import dev.handoff.server.PausedConnection;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.StandardSocketOptions;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.ManagedSelector;
import org.eclipse.jetty.io.SelectorManager;
import org.eclipse.jetty.server.AbstractConnector;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * A Jetty connector fed by a handoff proxy: instead of accepting on a port, it takes the
 * connections the proxy hands over on a unix socket, and Jetty serves each one as if it had
 * accepted it (same selectors, same HTTP/1.1 handling; the remote address is the real client).
 *
 * <pre>{@code
 * Server server = new Server();
 * server.addConnector(new HandoffConnector(server, Path.of("/run/app/app.sock")));
 * server.setHandler(handler);
 * server.start();
 * }</pre>
 *
 * <p>Each request carries its connection's {@link Handoff} facts ({@link HandoffCustomizer}).
 * Options of the receiving side (socket mode, allowed uids, connection cap, meter registry) are
 * set on {@link #getBootstrap()} before the server starts.
 *
 * <p><b>Upgrades.</b> With {@link #setTakeOver(boolean) take-over} on, the connector starts by
 * taking the socket path over from the process that serves it: that process pauses each HTTP/1.1
 * connection at its next request boundary (nothing of a request read, every response written) and
 * sends it here, with the bytes its client sent meanwhile still in the socket. Connections that do
 * not reach a boundary within the {@link #setMoveWindow move window} (a long request, an
 * upgraded or HTTP/2 connection) stay and end there: their next response says {@code Connection:
 * close}. {@link #handedOver()} then completes on the old process, which should stop its server
 * gracefully.
 *
 * <p>The JVM needs {@code --add-exports java.base/sun.nio.ch=ALL-UNNAMED} and {@code --add-opens
 * java.base/sun.nio.ch=ALL-UNNAMED} (the library makes a JDK SocketChannel of each received
 * descriptor); starting fails at once without them.
 */
public class HandoffConnector extends AbstractConnector {
  private final Path socket;
  private final HandoffServerBootstrap bootstrap = new HandoffServerBootstrap();
  private final SelectorManager selectorManager;
  private final Set<HandoffEndPoint> endPoints = ConcurrentHashMap.newKeySet();
  private final CompletableFuture<Void> handedOver = new CompletableFuture<>();
  private boolean takeOver;
  private int acceptQueue = 1024;
  private Duration moveWindow = Duration.ofSeconds(2);
  private volatile HandoffAcceptor acceptor;

  /** A connector for {@code socket} serving HTTP/1.1 with a default configuration. */
  public HandoffConnector(Server server, Path socket) {
    this(server, socket, new HttpConnectionFactory());
  }

  /** A connector for {@code socket} serving the protocols of {@code factories}. */
  public HandoffConnector(Server server, Path socket, ConnectionFactory... factories) {
    super(server, null, null, null, 1, factories.length > 0 ? factories
        : new ConnectionFactory[] {new HttpConnectionFactory()});
    this.socket = Objects.requireNonNull(socket, "socket").toAbsolutePath();
    this.selectorManager = new HandoffSelectorManager(getExecutor(), getScheduler());
    installBean(selectorManager, true);
    for (HttpConnectionFactory http : getBeans(HttpConnectionFactory.class)) {
      addCustomizer(http.getHttpConfiguration());
    }
  }

  private static void addCustomizer(HttpConfiguration configuration) {
    if (configuration.getCustomizer(HandoffCustomizer.class) == null) {
      configuration.addCustomizer(new HandoffCustomizer());
    }
  }

  /** The unix socket proxies hand connections over on. */
  public Path getSocket() {
    return socket;
  }

  /**
   * The receiving side's options (socket mode, allowed uids, connection cap, meter registry), to
   * set before the server starts.
   */
  public HandoffServerBootstrap getBootstrap() {
    return bootstrap;
  }

  /** Whether the connector takes the socket path over from a running process when it starts. */
  public boolean isTakeOver() {
    return takeOver;
  }

  /** Take the socket path over from the process serving it (see the class comment). */
  public void setTakeOver(boolean takeOver) {
    this.takeOver = takeOver;
  }

  /** How long a take-over lets each connection reach a request boundary. Default 2 s. */
  public void setMoveWindow(Duration window) {
    this.moveWindow = Objects.requireNonNull(window, "window");
  }

  /** Handed-off connections that may wait for Jetty's acceptor thread. Default 1024. */
  public void setAcceptQueue(int queue) {
    this.acceptQueue = queue;
  }

  /** Connections Jetty serves through this connector now. */
  public int getConnectionCount() {
    return endPoints.size();
  }

  /**
   * Completes on this (the old) process once a successor has taken the socket path over: the
   * connections that could move have moved. Stop the server then; its graceful stop lets the others
   * finish.
   */
  public CompletableFuture<Void> handedOver() {
    return handedOver;
  }

  /** One line on the handoffs received (adopted, migrated in, refused, links); empty if stopped. */
  public String summary() {
    HandoffAcceptor a = acceptor;
    return a == null ? "" : a.summary();
  }

  @Override
  public Object getTransport() {
    return acceptor;
  }

  @Override
  protected void doStart() throws Exception {
    for (HttpConnectionFactory http : getBeans(HttpConnectionFactory.class)) {
      addCustomizer(http.getHttpConfiguration());
    }
    AcceptedConnections accepted = this::movable;
    HandoffAcceptor a = takeOver
        ? bootstrap.takeOverAcceptor(socket, acceptQueue, accepted)
        : bootstrap.bindAcceptor(socket, acceptQueue, accepted);
    acceptor = a;
    a.handedOver().whenComplete((ok, failure) -> {
      if (failure == null) {
        handedOver.complete(null);
      } else {
        handedOver.completeExceptionally(failure);
      }
    });
    try {
      super.doStart();
    } catch (Exception e) {
      a.close();
      acceptor = null;
      throw e;
    }
  }

  /**
   * Graceful stop: proxies are told at once to send new connections elsewhere; the connections
   * here finish (Jetty closes each after its current response).
   */
  @Override
  public CompletableFuture<Void> shutdown() {
    HandoffAcceptor a = acceptor;
    if (a != null) {
      try {
        a.stopTakingHandoffs();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    return super.shutdown();
  }

  @Override
  protected void doStop() throws Exception {
    HandoffAcceptor a = acceptor;
    acceptor = null;
    if (a != null) {
      a.close(); // stops taking handoffs; connections queued and never served are closed
    }
    super.doStop();
  }

  @Override
  protected void accept(int acceptorID) throws IOException, InterruptedException {
    HandoffAcceptor a = acceptor;
    if (a == null) {
      throw new ClosedChannelException();
    }
    HandedOffChannel next = a.accept(Duration.ofMillis(500));
    if (next != null) {
      serve(next);
    }
  }

  /**
   * Gives a handed-off (or resumed) connection to Jetty's selectors. Ownership: from the call on,
   * Jetty's end point owns the channel; if the selector cannot take it, it is closed here.
   */
  private void serve(HandedOffChannel connection) {
    SocketChannel channel = connection.channel();
    try {
      channel.configureBlocking(false);
      channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
      selectorManager.accept(channel, connection.handoff());
    } catch (IOException | RuntimeException e) {
      LOG.warn("cannot serve {}: {}", connection.handoff(), e.toString());
      Closeables.closeQuietly(channel);
    }
  }

  /** For a take-over: asks every connection to pause at its next request boundary. */
  private List<Supplier<CompletableFuture<PausedConnection>>> movable() {
    List<Supplier<CompletableFuture<PausedConnection>>> pausing = new ArrayList<>();
    for (HandoffEndPoint endPoint : endPoints) {
      pausing.add(() -> endPoint.pause(moveWindow));
    }
    LOG.info("a successor takes {} over: {} connections pause at their next request boundary"
        + " (within {} ms) to move to it; the others finish here", socket, pausing.size(),
        moveWindow.toMillis());
    return pausing;
  }

  @Override
  public String toString() {
    return String.format("%s@%h[%s]", getClass().getSimpleName(), hashCode(), socket);
  }

  private final class HandoffSelectorManager extends SelectorManager {
    HandoffSelectorManager(Executor executor, Scheduler scheduler) {
      super(executor, scheduler);
    }

    @Override
    protected EndPoint newEndPoint(SelectableChannel channel, ManagedSelector selector,
        SelectionKey key) {
      // The key's attachment is still the accept's: the connection's Handoff.
      HandoffEndPoint endPoint = new HandoffEndPoint((SocketChannel) channel, selector, key,
          getScheduler(), getExecutor(), (Handoff) key.attachment(), HandoffConnector.this::serve);
      endPoint.setIdleTimeout(getIdleTimeout());
      return endPoint;
    }

    @Override
    public Connection newConnection(SelectableChannel channel, EndPoint endPoint,
        Object attachment) {
      return getDefaultConnectionFactory().newConnection(HandoffConnector.this, endPoint);
    }

    @Override
    protected void endPointOpened(EndPoint endPoint) {
      super.endPointOpened(endPoint);
      endPoints.add((HandoffEndPoint) endPoint);
      onEndPointOpened(endPoint);
    }

    @Override
    protected void endPointClosed(EndPoint endPoint) {
      endPoints.remove(endPoint);
      onEndPointClosed(endPoint);
      super.endPointClosed(endPoint);
    }
  }
}
