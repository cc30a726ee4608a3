package dev.handoff.proxy;

import dev.handoff.proxy.accept.Cidr;
import dev.handoff.proxy.link.LinkOptions;
import dev.handoff.proxy.route.PeekOptions;
import dev.handoff.proxy.route.RouteTable;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Everything one listener needs to run, as {@link ProxyCommand} validated it: where it accepts,
 * what it reads first, where connections go and how they travel there.
 *
 * @param listen the address, port and backlog accepted on
 * @param proxyProtocol whose PROXY headers are read ({@code --proxy-protocol-from}), or none
 * @param routes every route, the default included; only a default route unless {@code --route}
 * @param peek how first bytes are peeked at, when some route needs them
 * @param links the queue and the links to the apps
 * @param plainProtocol {@code --protocol plain}: one descriptor per message, no answers
 * @param shutdownGrace how long accepted connections are still handed off after SIGTERM
 */
record ProxyConfig(Listen listen, ProxyProtocolFrom proxyProtocol, RouteTable routes,
    PeekOptions peek, LinkOptions links, boolean plainProtocol, Duration shutdownGrace) {

  /** The address accepted on and the kernel's accept backlog. */
  record Listen(InetAddress bind, int port, int backlog) {
    InetSocketAddress address() {
      return new InetSocketAddress(bind, port);
    }
  }

  /** Load balancers whose PROXY header is read (empty: off), and how long one may take. */
  record ProxyProtocolFrom(List<Cidr> trusted, Duration timeout) {
    boolean on() {
      return !trusted.isEmpty();
    }
  }

  /** The default route's app sockets; empty if there is no default route. */
  List<Path> defaultSockets() {
    return routes.fallback() == null ? List.of() : routes.fallback().sockets();
  }
}
