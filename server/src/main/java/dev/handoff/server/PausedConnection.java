package dev.handoff.server;

/**
 * A connection its server has stopped serving so that it can move to a successor ({@link
 * AcceptedConnections#movable()}).
 *
 * <p>Ownership: from the moment the caller completes the future with it, the library owns the
 * channel. The channel must then be registered with no selector (a JDK channel still registered
 * shuts its socket down on close, which would cut the connection that the successor now serves),
 * and nothing may read, write or close it. Once the successor has adopted it, the library closes
 * the channel (close(2) on this process's copy; the socket stays connected). If the move fails, the
 * library calls {@code resume}, and the channel is the caller's again, to serve as before.
 *
 * @param connection the channel and what the proxy knew of it
 * @param resume serves the connection here again; called at most once, and only if it does not move
 */
public record PausedConnection(HandedOffChannel connection, Runnable resume) {}
