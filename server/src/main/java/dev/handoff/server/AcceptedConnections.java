package dev.handoff.server;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * The connections a caller of {@link HandoffAcceptor} serves, as a take-over sees them: give one to
 * {@link HandoffServerBootstrap#bindAcceptor(java.nio.file.Path, int, AcceptedConnections)} so that
 * a successor ({@link HandoffServerBootstrap#takeOverAcceptor}) receives the connections that can
 * move instead of leaving them all to finish here.
 *
 * <p>A connection can move only where its server holds nothing of it but the socket: between two
 * HTTP/1.1 requests, say, with no byte of the next one read. What the client already sent and the
 * server did not read stays in the socket and travels with it; nothing else does.
 */
public interface AcceptedConnections {
  /** Moves nothing: every connection finishes with the process that accepted it. */
  AcceptedConnections NONE = List::of;

  /**
   * Called once per take-over, on this (the running) process: the connections that may move, none
   * touched yet. The take-over calls each supplier just before that connection's move: it pauses
   * the connection, now or within a short while (a second or so: the successor waits).
   *
   * @return one supplier per connection; its future completes with the paused connection, or with
   *     {@code null} if it stays here to finish (it could not pause in time, or it closed)
   */
  List<Supplier<CompletableFuture<PausedConnection>>> movable();
}
