package dev.handoff.proxy;

import java.util.concurrent.atomic.LongAdder;

/**
 * What happened to the connections the proxy accepted. Each accepted connection ends in exactly one
 * of: handed off, rejected by the app, expired, dropped at shutdown, or left unacknowledged.
 */
final class ProxyStats {
  final LongAdder accepted = new LongAdder();
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
  final LongAdder acceptPauses = new LongAdder();

  @Override
  public String toString() {
    return "accepted=" + accepted.sum() + " handed-off=" + handedOff.sum()
        + " rejected-by-app=" + rejectedByApp.sum()
        + " dropped-expired=" + droppedExpired.sum()
        + " dropped-at-shutdown=" + droppedShutdown.sum()
        + " unacknowledged=" + unacknowledged.sum()
        + " resent=" + resent.sum() + " retried=" + retried.sum()
        + " unknown-acks=" + unknownAcks.sum() + " accept-pauses=" + acceptPauses.sum();
  }
}
