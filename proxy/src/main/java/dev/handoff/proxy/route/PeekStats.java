package dev.handoff.proxy.route;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * What the peek stage decided for each connection it looked at, and the per-route meters (label
 * {@code route}). Exists only when some route needs the first bytes. Every connection the stage
 * takes ends in exactly one {@link Outcome}.
 */
final class PeekStats {
  /** How a connection left the peek stage. */
  enum Outcome {
    /** Its first bytes matched a route's rule. */
    MATCHED,
    /** TLS or HTTP, complete, but no rule matched: the default route. */
    NO_MATCH,
    /** Neither TLS nor HTTP: the default route. */
    UNRECOGNISED,
    /** Not enough within --peek-timeout (or nothing at all): the default route. */
    TIMEOUT,
    /** No verdict within --peek-max-bytes: the default route. */
    TOO_LARGE,
    /** Broken TLS or HTTP given the default route (--peek-malformed=default). */
    MALFORMED_DEFAULT,
    /** Broken TLS or HTTP closed (--peek-malformed=close). */
    MALFORMED_CLOSED,
    /** The client closed or reset while being peeked at: closed. */
    CLIENT_GONE,
    /** No route matched and there is no default route: closed. */
    NO_ROUTE,
    /** The route's queue was full: closed. */
    ROUTE_FULL;

    String label() {
      return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
  }

  private final Map<Outcome, LongAdder> outcomes = new EnumMap<>(Outcome.class);
  /** Of the connections routed, those decided on the accepting thread, without waiting. */
  private final LongAdder atAccept = new LongAdder();

  PeekStats(MeterRegistry registry, List<? extends RouteDestination> targets, Supplier<Integer> peeking) {
    for (Outcome o : Outcome.values()) {
      LongAdder adder = new LongAdder();
      outcomes.put(o, adder);
      FunctionCounter.builder("handoff.proxy.peek.outcomes", adder, LongAdder::sum)
          .description("connections whose first bytes were peeked at, by what was decided")
          .tag("outcome", o.label()).register(registry);
    }
    String failed = "accepted connections closed without a handoff, by reason";
    for (Outcome o : List.of(Outcome.MALFORMED_CLOSED, Outcome.CLIENT_GONE, Outcome.NO_ROUTE,
        Outcome.ROUTE_FULL)) {
      FunctionCounter.builder("handoff.proxy.handoffs.failed", outcomes.get(o), LongAdder::sum)
          .description(failed).tag("reason", "peek-" + o.label()).register(registry);
    }
    FunctionCounter.builder("handoff.proxy.peek.at.accept", atAccept, LongAdder::sum)
        .description("connections routed as soon as they were accepted, their first bytes being"
            + " there already; the others waited in the peek stage")
        .register(registry);
    Gauge.builder("handoff.proxy.peek.connections", peeking, p -> p.get())
        .description("connections whose first bytes are being waited for")
        .strongReference(true) // the supplier is referenced by nothing else
        .register(registry);
    for (RouteDestination t : targets) {
      FunctionCounter.builder("handoff.proxy.route.connections", t, RouteDestination::routed)
          .description("connections given to each route").tag("route", t.name())
          .register(registry);
      Gauge.builder("handoff.proxy.route.queued", t, RouteDestination::waiting)
          .description("connections of each route waiting to be sent").tag("route", t.name())
          .register(registry);
      Gauge.builder("handoff.proxy.route.links.up", t, RouteDestination::linksUp)
          .description("links to each route's apps that take handoffs").tag("route", t.name())
          .register(registry);
    }
  }

  void count(Outcome outcome) {
    outcomes.get(outcome).increment();
  }

  /** One connection routed on the accepting thread: its first bytes were there at once. */
  void countAtAccept() {
    atAccept.increment();
  }

  long get(Outcome outcome) {
    return outcomes.get(outcome).sum();
  }

  @Override
  public String toString() {
    StringBuilder s = new StringBuilder("peek:");
    for (Map.Entry<Outcome, LongAdder> e : outcomes.entrySet()) {
      s.append(' ').append(e.getKey().label()).append('=').append(e.getValue().sum());
    }
    s.append(" at-accept=").append(atAccept.sum());
    return s.toString();
  }
}
