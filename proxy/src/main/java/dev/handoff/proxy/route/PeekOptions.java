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
 */
public record PeekOptions(int maxBytes, Duration timeout, boolean closeMalformed) {
  /** The defaults: 16 KiB, 1 s, malformed input to the default route. */
  public static final PeekOptions DEFAULTS = new PeekOptions(16 * 1024, Duration.ofSeconds(1),
      false);
}
