package dev.handoff.proxy.route;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The routes of one listener, in order, and the choice among them: the first whose rule matches
 * wins; the default route takes what none matches. A table with only a default route needs no
 * look at the first bytes ({@link #needsPeek()} is false).
 */
public final class RouteTable {
  private final List<RouteSpec> routes;
  private final RouteSpec fallback;

  /**
   * A table of {@code routes} (tried in order) and a default route.
   *
   * @param routes the routes with a rule other than default, in the order they are tried
   * @param fallback the default route, or {@code null} to close what no route matches
   */
  public RouteTable(List<RouteSpec> routes, RouteSpec fallback) {
    this.routes = List.copyOf(routes);
    this.fallback = fallback;
  }

  /**
   * Builds the table from {@code --route RULE=SOCKET} values in the order given and the
   * positional sockets (the default route). Values with the same rule make one route with several
   * sockets.
   *
   * @throws IllegalArgumentException naming the bad value
   */
  public static RouteTable fromOptions(List<String> values, List<java.nio.file.Path> defaults) {
    Map<String, List<java.nio.file.Path>> byRule = new LinkedHashMap<>();
    Map<String, Rule> rules = new LinkedHashMap<>();
    List<java.nio.file.Path> fallback = new ArrayList<>(defaults);
    for (String value : values) {
      int eq = value.indexOf('=');
      if (eq < 0) {
        throw new IllegalArgumentException("--route '" + value + "': expected RULE=SOCKET");
      }
      String socket = value.substring(eq + 1);
      if (socket.isEmpty()) {
        throw new IllegalArgumentException("--route '" + value + "': no SOCKET after '='");
      }
      Rule rule;
      try {
        rule = Rule.parse(value.substring(0, eq));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--route " + e.getMessage(), e);
      }
      java.nio.file.Path path = java.nio.file.Path.of(socket);
      if (rule.kind() == Rule.Kind.DEFAULT) {
        fallback.add(path);
        continue;
      }
      rules.putIfAbsent(rule.text(), rule);
      byRule.computeIfAbsent(rule.text(), k -> new ArrayList<>()).add(path);
    }
    List<RouteSpec> routes = new ArrayList<>();
    byRule.forEach((text, sockets) -> routes.add(new RouteSpec(text, rules.get(text), sockets)));
    return new RouteTable(routes,
        fallback.isEmpty() ? null : new RouteSpec("default", Rule.DEFAULT, fallback));
  }

  /** The routes with rules, in order. */
  public List<RouteSpec> routes() {
    return routes;
  }

  /** The default route, or {@code null}. */
  public RouteSpec fallback() {
    return fallback;
  }

  /** Every route, the default last. */
  public List<RouteSpec> all() {
    List<RouteSpec> all = new ArrayList<>(routes);
    if (fallback != null) {
      all.add(fallback);
    }
    return all;
  }

  /** Whether a connection's first bytes must be looked at: some route has a rule. */
  public boolean needsPeek() {
    return !routes.isEmpty();
  }

  /**
   * The index in {@link #all()} of the route for a connection whose first bytes gave
   * {@code found}, or -1 if none (no default route).
   */
  public int match(FirstBytes found) {
    if (found.verdict() == FirstBytes.Verdict.FOUND) {
      for (int i = 0; i < routes.size(); i++) {
        if (routes.get(i).rule().matches(found)) {
          return i;
        }
      }
    }
    return fallbackIndex();
  }

  /** The index of the default route in {@link #all()}, or -1 if there is none. */
  public int fallbackIndex() {
    return fallback != null ? routes.size() : -1;
  }
}
