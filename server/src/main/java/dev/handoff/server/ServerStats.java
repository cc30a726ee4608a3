package dev.handoff.server;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * What the app did with the handoffs it received, shared by every link reader, and exposed in
 * the Prometheus registry. The lifetime latency histogram feeds the shutdown summary; Micrometer's
 * timer feeds scrapes.
 */
final class ServerStats {
  final LongAdder adopted = new LongAdder();
  final LongAdder refused = new LongAdder();
  /** Connections a previous app handed over during a take-over. */
  final LongAdder migratedIn = new LongAdder();
  /** Answers that could not be written: the proxy had closed the link; the connections stayed. */
  final LongAdder answersLost = new LongAdder();
  final LatencyHistogram latency = new LatencyHistogram();
  private final MeterRegistry registry;
  private final Timer timer;

  ServerStats(MeterRegistry registry) {
    this.registry = registry;
    FunctionCounter.builder("handoff.app.handoffs.adopted", adopted, LongAdder::sum)
        .description("handoffs whose connection this app now serves").register(registry);
    FunctionCounter.builder("handoff.app.connections.migrated.in", migratedIn, LongAdder::sum)
        .description("connections a previous app handed over during a take-over")
        .register(registry);
    FunctionCounter.builder("handoff.app.answers.lost", answersLost, LongAdder::sum)
        .description("answers a proxy could no longer be sent (it had closed the link); the"
            + " connections were served all the same")
        .register(registry);
    timer = Timer.builder("handoff.app.handoff.latency")
        .description("from the proxy's accept to the app owning the descriptor")
        .publishPercentileHistogram()
        .minimumExpectedValue(Duration.ofNanos(20_000))
        .maximumExpectedValue(Duration.ofSeconds(10))
        .register(registry);
  }

  void adopted(long micros) {
    adopted.increment();
    latency.record(micros);
    timer.record(Math.max(0, micros), TimeUnit.MICROSECONDS);
  }

  /** Counts a refusal under its reason, e.g. {@code not-a-connected-stream-socket}. */
  void refused(String reason) {
    refused.increment();
    Counter.builder("handoff.app.handoffs.refused")
        .description("handoff messages refused, by reason")
        .tag("reason", reason.toLowerCase(Locale.ROOT).replace('_', '-'))
        .register(registry)
        .increment();
  }
}
