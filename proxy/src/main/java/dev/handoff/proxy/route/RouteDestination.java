package dev.handoff.proxy.route;

import dev.handoff.proxy.accept.AcceptedConnection;

/**
 * Where the connections of one route go once the peek stage picked it: the route's queue and
 * links, seen from here only as a place to offer a connection to and a few numbers to show.
 */
public interface RouteDestination {
  /** The route's name, as in the configuration and the meters' {@code route} tag. */
  String name();

  /**
   * Takes a connection routed here; never waits.
   *
   * @return false if the route's queue is full; the caller still owns the connection then
   */
  boolean offer(AcceptedConnection conn);

  /** Connections of this route waiting to be sent. */
  int waiting();

  /** Number of this route's links that are up. */
  long linksUp();

  /** Connections given to this route so far. */
  long routed();
}
