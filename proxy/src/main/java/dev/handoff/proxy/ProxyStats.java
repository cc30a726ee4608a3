package dev.handoff.proxy;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * What happened to the connections the proxy accepted. Each accepted connection ends in exactly one
 * of: handed off, rejected by the app, expired, dropped at shutdown, or left unacknowledged.
 */
final class ProxyStats {
  final LongAdder accepted = new LongAdder();
  /** Handoff messages written to a link (a connection sent again counts again). */
  final LongAdder sent = new LongAdder();
  /** Acknowledged by an app as adopted. */
  final LongAdder handedOff = new LongAdder();
  final LongAdder rejectedByApp = new LongAdder();
  final LongAdder droppedExpired = new LongAdder();
  final LongAdder droppedShutdown = new LongAdder();
  /** Sent, but the app neither acknowledged nor closed the link within the ack timeout. */
  final LongAdder unacknowledged = new LongAdder();
  /** Sent again after the link they were in flight on was lost. */
  final LongAdder resent = new LongAdder();
  /** Sent again after an app answered RETRY (it was out of descriptors). */
  final LongAdder retried = new LongAdder();
  final LongAdder unknownAcks = new LongAdder();
  /** Acknowledgements read whole with a status this proxy does not know; ignored. */
  final LongAdder unknownStatus = new LongAdder();
  final LongAdder acceptPauses = new LongAdder();
  /** From the accept to the app's ADOPTED answer. */
  final Timer latency;

  /** Counts into these adders and exposes them, with the latency histogram, in {@code registry}. */
  ProxyStats(MeterRegistry registry) {
    counter(registry, "handoff.proxy.connections.accepted", accepted, null, null);
    counter(registry, "handoff.proxy.handoffs.sent", sent, null, null);
    counter(registry, "handoff.proxy.handoffs.acknowledged", handedOff, "status", "adopted");
    counter(registry, "handoff.proxy.handoffs.acknowledged", retried, "status", "retry");
    counter(registry, "handoff.proxy.handoffs.acknowledged", rejectedByApp, "status", "rejected");
    counter(registry, "handoff.proxy.handoffs.failed", rejectedByApp, "reason", "rejected");
    counter(registry, "handoff.proxy.handoffs.failed", unacknowledged, "reason", "unacknowledged");
    counter(registry, "handoff.proxy.handoffs.failed", droppedExpired, "reason", "timed-out");
    counter(registry, "handoff.proxy.handoffs.failed", droppedShutdown, "reason", "shutdown");
    counter(registry, "handoff.proxy.handoffs.resent", resent, null, null);
    counter(registry, "handoff.proxy.connections.timed.out", droppedExpired, null, null);
    counter(registry, "handoff.proxy.acks.unknown", unknownAcks, null, null);
    counter(registry, "handoff.proxy.acks.unknown.status", unknownStatus, null, null);
    counter(registry, "handoff.proxy.accept.pauses", acceptPauses, null, null);
    latency = Timer.builder("handoff.proxy.handoff.latency")
        .description("from the proxy's accept to the app's acknowledgement")
        .publishPercentileHistogram()
        .publishPercentiles(0.5, 0.99)
        .minimumExpectedValue(Duration.ofNanos(20_000))
        .maximumExpectedValue(Duration.ofSeconds(10))
        .register(registry);
  }

  /** Records one adopted handoff's latency. */
  void adopted(long acceptedNanos) {
    handedOff.increment();
    latency.record(System.nanoTime() - acceptedNanos, TimeUnit.NANOSECONDS);
  }

  private static void counter(MeterRegistry registry, String name, LongAdder adder, String tag,
      String value) {
    FunctionCounter.Builder<LongAdder> b = FunctionCounter.builder(name, adder, LongAdder::sum);
    if (tag != null) {
      b.tag(tag, value);
    }
    b.register(registry);
  }

  @Override
  public String toString() {
    return "accepted=" + accepted.sum() + " sent=" + sent.sum() + " handed-off=" + handedOff.sum()
        + " rejected-by-app=" + rejectedByApp.sum()
        + " dropped-expired=" + droppedExpired.sum()
        + " dropped-at-shutdown=" + droppedShutdown.sum()
        + " unacknowledged=" + unacknowledged.sum()
        + " resent=" + resent.sum() + " retried=" + retried.sum()
        + " unknown-acks=" + unknownAcks.sum() + " unknown-status=" + unknownStatus.sum()
        + " accept-pauses=" + acceptPauses.sum();
  }
}
