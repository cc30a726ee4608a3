package dev.handoff.proxy;

import dev.handoff.proxy.accept.Cidr;
import dev.handoff.proxy.link.LinkOptions;
import dev.handoff.proxy.route.PeekOptions;
import dev.handoff.proxy.route.RouteSpec;
import dev.handoff.proxy.route.RouteTable;
import dev.handoff.proxy.route.Rule;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Everything one listener needs to run, as {@link ProxyOptions} made it: where it accepts,
 * what it reads first, where connections go and how they travel there.
 *
 * @param name the listener's name: "default" for PORT, its key in a configuration file
 * @param listen the address, port and backlog accepted on
 * @param proxyProtocol whose PROXY headers are read ({@code --proxy-protocol-from}), or none
 * @param routes every route, the default included; only a default route unless {@code --route}
 * @param peek how first bytes are peeked at, when some route needs them
 * @param links the queue and the links to the apps
 * @param plainProtocol {@code --protocol plain}: one descriptor per message, no answers
 * @param shutdownGrace how long accepted connections are still handed off after SIGTERM
 */
record ProxyConfig(String name, Listen listen, ProxyProtocolFrom proxyProtocol, RouteTable routes,
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

  /** One line on what a listener would do, for --check-config and the log. */
  String describe() {
    ProxyConfig c = this;
    String host = c.listen().bind().getHostAddress();
    StringBuilder line = new StringBuilder("listener ").append(name).append(" on ")
        .append(host.contains(":") ? "[" + host + "]" : host).append(':').append(c.listen().port())
        .append(':');
    for (RouteSpec route : c.routes().all()) {
      boolean named = route.rule().kind() != Rule.Kind.DEFAULT
          && !route.name().equals(route.rule().text());
      line.append(' ').append(route.name()).append(named ? " (" + route.rule() + ")" : "")
          .append(" -> ").append(route.sockets());
      line.append(';');
    }
    if (c.routes().fallback() == null) {
      line.append(" what no route matches is closed;");
    }
    if (c.proxyProtocol().on()) {
      line.append(" PROXY protocol from ").append(c.proxyProtocol().trusted()).append(';');
    }
    line.setLength(line.length() - 1);
    return line.toString();
  }

  /** The default route's app sockets; empty if there is no default route. */
  List<Path> defaultSockets() {
    return routes.fallback() == null ? List.of() : routes.fallback().sockets();
  }
}
