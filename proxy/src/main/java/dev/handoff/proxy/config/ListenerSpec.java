package dev.handoff.proxy.config;

import dev.handoff.proxy.route.RouteTable;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;

/**
 * One listener of a configuration file: the address it accepts on and the routes of its
 * connections, with how the first bytes are looked at when a route needs them.
 *
 * @param name the listener's name, in logs and metrics (unique in a file)
 * @param address the address and port to accept on
 * @param routes its routes, the default last
 * @param peekMaxBytes the most bytes looked at before routing, or 0 for the proxy's default
 * @param peekTimeout how long to wait for them, or {@code null} for the proxy's default
 * @param closeMalformed whether input that is neither TLS nor HTTP as expected is closed rather
 *     than sent to the default route; {@code null} for the proxy's default
 * @param proxyProtocolFrom the networks (CIDR) whose connections start with a PROXY protocol
 *     header, as written; empty for none
 * @param deferAccept whether the kernel holds each connection until its first bytes arrive
 *     ({@code TCP_DEFER_ACCEPT}); {@code null} for the proxy's default ({@code --peek-defer-accept})
 * @param sticky whether a client address goes to the same app of a route while it is linked;
 *     {@code null} for the proxy's default ({@code --sticky})
 */
public record ListenerSpec(String name, InetSocketAddress address, RouteTable routes,
    int peekMaxBytes, Duration peekTimeout, Boolean closeMalformed, Boolean deferAccept,
    List<String> proxyProtocolFrom, Boolean sticky) {
  /** Copies the list. */
  public ListenerSpec {
    proxyProtocolFrom = List.copyOf(proxyProtocolFrom);
  }
}
