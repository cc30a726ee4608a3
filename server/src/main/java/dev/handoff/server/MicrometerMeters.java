package dev.handoff.server;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntSupplier;

/**
 * A server's meters ({@code handoff.app.*}) in a Micrometer registry, each tagged with the
 * server's socket path so that two servers on one registry are both measured. The only class of
 * the library that uses Micrometer: it is loaded only when a registry is given, so that
 * micrometer-core is an optional dependency.
 */
final class MicrometerMeters implements ServerStats.Recorder {
  private final MeterRegistry registry;
  private final Tags tags;
  private final Timer timer;

  private MicrometerMeters(MeterRegistry registry, Tags tags, Timer timer) {
    this.registry = registry;
    this.tags = tags;
    this.timer = timer;
  }

  /**
   * Registers the server's meters in {@code registry} (a {@code MeterRegistry}, passed as an
   * Object so that callers need not load Micrometer) and returns where the stats record the rest.
   */
  static ServerStats.Recorder register(Object registry, Path socket, ServerStats stats,
      IntSupplier liveConnections, int maxConnections, IntSupplier links) {
    MeterRegistry meters = (MeterRegistry) registry;
    Tags tags = Tags.of("socket", socket.toString());
    counter(meters, tags, "handoff.app.handoffs.adopted", stats.adopted,
        "handoffs whose connection this app now serves");
    counter(meters, tags, "handoff.app.connections.migrated.in", stats.migratedIn,
        "connections a previous app handed over during a take-over");
    counter(meters, tags, "handoff.app.answers.lost", stats.answersLost,
        "answers a proxy could no longer be sent (it had closed the link); the connections were"
            + " served all the same");
    // Strong references: a gauge holds its object weakly, and nothing else holds these method
    // references, so after a collection the gauges would read NaN.
    Gauge.builder("handoff.app.connections.live", liveConnections, IntSupplier::getAsInt)
        .strongReference(true)
        .tags(tags).description("client connections served now").register(meters);
    Gauge.builder("handoff.app.connections.max", () -> maxConnections)
        .tags(tags).description("--max-connections: beyond it handoffs are answered RETRY")
        .register(meters);
    Gauge.builder("handoff.app.links.up", links, IntSupplier::getAsInt)
        .strongReference(true)
        .tags(tags).description("proxy links served now").register(meters);
    Timer timer = Timer.builder("handoff.app.handoff.latency")
        .tags(tags)
        .description("from the proxy's accept to the app owning the descriptor")
        .publishPercentileHistogram()
        .minimumExpectedValue(Duration.ofNanos(20_000))
        .maximumExpectedValue(Duration.ofSeconds(10))
        .register(meters);
    return new MicrometerMeters(meters, tags, timer);
  }

  private static void counter(MeterRegistry meters, Tags tags, String name, LongAdder count,
      String description) {
    FunctionCounter.builder(name, count, LongAdder::sum).tags(tags).description(description)
        .register(meters);
  }

  @Override
  public void adopted(long micros) {
    timer.record(Math.max(0, micros), TimeUnit.MICROSECONDS);
  }

  @Override
  public void refused(String reason) {
    Counter.builder("handoff.app.handoffs.refused")
        .description("handoff messages refused, by reason")
        .tags(tags)
        .tag("reason", reason.toLowerCase(Locale.ROOT).replace('_', '-'))
        .register(registry)
        .increment();
  }
}
