package dev.handoff.server;

import java.nio.channels.SocketChannel;

/**
 * A connection taken from a {@link HandoffAcceptor}: a connected JDK socket channel, in blocking
 * mode, that the caller now owns (closing it ends the connection for the client), and what the
 * proxy knew of it.
 *
 * @param channel the connection; its {@code getRemoteAddress()} is the real client (behind a
 *     trusted load balancer, the client the balancer spoke for: see {@link Handoff#client()})
 * @param handoff the proxy's facts: connection id, addresses, accept time
 */
public record HandedOffChannel(SocketChannel channel, Handoff handoff) {}
