package dev.handoff.server;

import java.io.Closeable;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletionStage;

/**
 * Handed-off connections as JDK {@link java.nio.channels.SocketChannel}s, for servers without
 * Netty: {@link #accept()} works like {@code ServerSocketChannel.accept()}, so a thread per
 * connection (a virtual thread on Java 21 and later) or the JDK's own selector can serve them.
 * Made by {@link HandoffServerBootstrap#bindAcceptor}; the links, peer checks, validation and
 * answers are the same as for a {@link HandoffServer}.
 *
 * <pre>{@code
 * try (HandoffAcceptor acceptor = new HandoffServerBootstrap().bindAcceptor(socket, 1024)) {
 *   while (true) {
 *     HandedOffChannel c = acceptor.accept();
 *     Thread.ofVirtual().start(() -> serve(c.channel()));
 *   }
 * }
 * }</pre>
 *
 * <p><b>Important notes</b>
 * <ol>
 *   <li>Each accepted channel is the caller's: it is connected, in blocking mode, and closing it
 *       ends the connection. Nothing in the library closes it later.</li>
 *   <li>A connection is answered ADOPTED (and the proxy closes its copy) as soon as it is queued
 *       here; at most the queue's capacity wait, beyond which handoffs are answered RETRY and the
 *       proxy keeps them.</li>
 *   <li>Making a SocketChannel from a descriptor needs a JDK internal: run the JVM with
 *       {@code --add-opens java.base/sun.nio.ch=ALL-UNNAMED}; binding fails at once without it.</li>
 *   <li>A take-over moves only the connections that the caller pauses (bound with an {@link
 *       AcceptedConnections}; the library cannot pause a thread that reads a channel): the others
 *       stay with the old process until the caller closes them.</li>
 * </ol>
 */
public final class HandoffAcceptor implements Closeable {
  private final HandoffServer server;
  private final SocketChannelEngine engine;

  HandoffAcceptor(HandoffServer server, SocketChannelEngine engine) {
    this.server = server;
    this.engine = engine;
  }

  /**
   * Waits for the next handed-off connection.
   *
   * @throws ClosedChannelException once the acceptor is closed
   */
  public HandedOffChannel accept() throws ClosedChannelException, InterruptedException {
    return engine.take(null);
  }

  /**
   * Waits up to {@code timeout} for the next handed-off connection.
   *
   * @return the connection, or {@code null} if none came in time
   * @throws ClosedChannelException once the acceptor is closed
   */
  public HandedOffChannel accept(Duration timeout)
      throws ClosedChannelException, InterruptedException {
    return engine.take(Objects.requireNonNull(timeout, "timeout"));
  }

  /** The unix socket this acceptor listens on. */
  public Path socket() {
    return server.socket();
  }

  /**
   * Completes once a successor has taken over (see {@link HandoffServer#handedOver()}): the
   * connections the caller paused have moved; the caller should now let the others finish and
   * close this acceptor.
   */
  public CompletionStage<Void> handedOver() {
    return server.handedOver();
  }

  /** One line on the state of things: handoffs adopted, migrated in and refused, links. */
  public String summary() {
    return server.summary();
  }

  /** Stops taking handoffs; connections already queued can still be accepted. */
  public void stopTakingHandoffs() throws InterruptedException {
    server.stopTakingHandoffs();
  }

  /**
   * Stops taking handoffs and closes the connections queued and never accepted; accepted ones are
   * the caller's and stay open. Safe to call again.
   */
  @Override
  public void close() {
    server.close();
  }
}
