package dev.handoff.proxy.accept;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * What happened to the connections the proxy accepted. Each accepted connection ends in exactly one
 * of: handed off, rejected by the app, expired, dropped at shutdown, left unacknowledged, or (with
 * --proxy-protocol-from) closed for its PROXY header: refused or invalid.
 */
public final class ProxyStats {
  public final LongAdder accepted = new LongAdder();
  /** Handoff messages written to a link (a connection sent again counts again). */
  public final LongAdder sent = new LongAdder();
  /** Acknowledged by an app as adopted. */
  public final LongAdder handedOff = new LongAdder();
  public final LongAdder rejectedByApp = new LongAdder();
  public final LongAdder droppedExpired = new LongAdder();
  public final LongAdder droppedShutdown = new LongAdder();
  /** Sent, but the app neither acknowledged nor closed the link within the ack timeout. */
  public final LongAdder unacknowledged = new LongAdder();
  /** Sent again after the link they were in flight on was lost. */
  public final LongAdder resent = new LongAdder();
  /** Sent again after an app answered RETRY (it was out of descriptors). */
  public final LongAdder retried = new LongAdder();
  public final LongAdder unknownAcks = new LongAdder();
  /** Acknowledgements read whole with a status this proxy does not know; ignored. */
  public final LongAdder unknownStatus = new LongAdder();
  public final LongAdder acceptPauses = new LongAdder();
  /** 1 while the acceptor waits for room in the queue. */
  public final AtomicInteger acceptPaused = new AtomicInteger();
  /**
   * Accepted connections whose proxy copy is still open (queued, in flight, or held): a proxy that
   * stopped accepting for an upgrade exits when this is 0.
   */
  public final AtomicInteger held = new AtomicInteger();
  /** PROXY protocol headers read from trusted load balancers (--proxy-protocol-from). */
  public final LongAdder proxyHeaderRead = new LongAdder();
  /** Connections from outside --proxy-protocol-from that started with a PROXY header: closed. */
  public final LongAdder proxyHeaderRefused = new LongAdder();
  /**
   * Connections from a trusted load balancer without a valid PROXY header (malformed, none, closed
   * or timed out first): closed.
   */
  public final LongAdder proxyHeaderInvalid = new LongAdder();
  /** From the accept to the app's ADOPTED answer. */
  public final Timer latency;

  /** Counts into these adders and exposes them, with the latency histogram, in {@code registry}. */
  public ProxyStats(MeterRegistry registry) {
    counter(registry, "handoff.proxy.connections.accepted", accepted, null, null,
        "TCP connections accepted");
    counter(registry, "handoff.proxy.handoffs.sent", sent, null, null,
        "handoff messages written to a link; a connection sent again counts again");
    String acked = "answers from apps, by status";
    counter(registry, "handoff.proxy.handoffs.acknowledged", handedOff, "status", "adopted", acked);
    counter(registry, "handoff.proxy.handoffs.acknowledged", retried, "status", "retry", acked);
    counter(registry, "handoff.proxy.handoffs.acknowledged", rejectedByApp, "status", "rejected",
        acked);
    String failed = "accepted connections closed without a handoff, by reason";
    counter(registry, "handoff.proxy.handoffs.failed", rejectedByApp, "reason", "rejected", failed);
    counter(registry, "handoff.proxy.handoffs.failed", unacknowledged, "reason", "unacknowledged",
        failed);
    counter(registry, "handoff.proxy.handoffs.failed", droppedExpired, "reason", "timed-out",
        failed);
    counter(registry, "handoff.proxy.handoffs.failed", droppedShutdown, "reason", "shutdown",
        failed);
    counter(registry, "handoff.proxy.handoffs.resent", resent, null, null,
        "handoffs sent again after the link they were in flight on was lost");
    counter(registry, "handoff.proxy.connections.timed.out", droppedExpired, null, null,
        "accepted connections closed after waiting --queue-wait for an app");
    counter(registry, "handoff.proxy.acks.unknown", unknownAcks, null, null,
        "answers from apps for handoffs the proxy did not have in flight");
    counter(registry, "handoff.proxy.acks.unknown.status", unknownStatus, null, null,
        "answers from apps with a status this proxy does not know (the link goes on)");
    counter(registry, "handoff.proxy.accept.pauses", acceptPauses, null, null,
        "times accepting paused because --queue-size connections waited for an app");
    String pp = "connections whose first bytes were looked at for a PROXY protocol header, by"
        + " outcome (--proxy-protocol-from)";
    counter(registry, "handoff.proxy.proxy.protocol", proxyHeaderRead, "result", "read", pp);
    counter(registry, "handoff.proxy.proxy.protocol", proxyHeaderRefused, "result",
        "refused-untrusted", pp);
    counter(registry, "handoff.proxy.proxy.protocol", proxyHeaderInvalid, "result", "invalid",
        pp);
    Gauge.builder("handoff.proxy.accept.paused", acceptPaused, AtomicInteger::get)
        .description("1 while accepting is paused (the queue is full), else 0")
        .register(registry);
    latency = Timer.builder("handoff.proxy.handoff.latency")
        .description("from the proxy's accept to the app's acknowledgement")
        .publishPercentileHistogram()
        .publishPercentiles(0.5, 0.99)
        .minimumExpectedValue(Duration.ofNanos(20_000))
        .maximumExpectedValue(Duration.ofSeconds(10))
        .register(registry);
  }

  /** Records one adopted handoff's latency. */
  public void adopted(long acceptedNanos) {
    handedOff.increment();
    latency.record(System.nanoTime() - acceptedNanos, TimeUnit.NANOSECONDS);
  }

  private static void counter(MeterRegistry registry, String name, LongAdder adder, String tag,
      String value, String description) {
    FunctionCounter.Builder<LongAdder> b = FunctionCounter.builder(name, adder, LongAdder::sum)
        .description(description);
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
        + " accept-pauses=" + acceptPauses.sum()
        + (proxyHeaderRead.sum() + proxyHeaderRefused.sum() + proxyHeaderInvalid.sum() == 0 ? ""
            : " proxy-headers=" + proxyHeaderRead.sum() + " proxy-refused="
                + proxyHeaderRefused.sum() + " proxy-invalid=" + proxyHeaderInvalid.sum());
  }
}
