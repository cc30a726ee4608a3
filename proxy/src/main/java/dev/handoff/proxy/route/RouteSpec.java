package dev.handoff.proxy.route;

import java.nio.file.Path;
import java.util.List;

/**
 * One route of a listener: its name, the rule a connection must match, and the app sockets that
 * serve it (several spread as the proxy spreads over the positional SOCKETs, each route with links
 * and acknowledgements of its own).
 *
 * @param name the route's name, in logs and in the {@code route} label of metrics
 * @param rule what a connection must match
 * @param sockets the apps' unix sockets, at least one
 */
public record RouteSpec(String name, Rule rule, List<Path> sockets) {
  /** Checks the fields. */
  public RouteSpec {
    if (sockets.isEmpty()) {
      throw new IllegalArgumentException("route " + name + " has no socket");
    }
    sockets = List.copyOf(sockets);
  }
}
