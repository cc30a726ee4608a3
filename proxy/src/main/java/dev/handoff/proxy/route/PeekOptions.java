package dev.handoff.proxy.route;

import java.time.Duration;

/**
 * How the proxy looks at a connection's first bytes before it picks a route.
 *
 * @param maxBytes the most bytes peeked ({@code --peek-max-bytes}); a head not complete within
 *     them takes the default route
 * @param timeout how long after the accept a connection may take to send enough
 *     ({@code --peek-timeout}); then it takes the default route
 * @param closeMalformed {@code --peek-malformed=close}: a connection whose first bytes claim TLS
 *     or HTTP and break it is closed rather than given the default route
 * @param deferAccept {@code --peek-defer-accept} (the default): the listening socket has
 *     {@code TCP_DEFER_ACCEPT} of {@link #DEFER_ACCEPT_SECONDS}, so that the kernel hands a
 *     connection to {@code accept} once its first bytes are there (they are then read at accept,
 *     with no wait on readiness), or, for a client that sends nothing, after about that long,
 *     which counts towards its {@code timeout}
 */
public record PeekOptions(int maxBytes, Duration timeout, boolean closeMalformed,
    boolean deferAccept) {
  /** How long the kernel holds a connection that sends nothing, with {@code deferAccept}. */
  public static final int DEFER_ACCEPT_SECONDS = 1;

  /** The defaults: 16 KiB, 1 s, malformed input to the default route, accept deferred. */
  public static final PeekOptions DEFAULTS = new PeekOptions(16 * 1024, Duration.ofSeconds(1),
      false, true);
}
