package dev.handoff.proxy;

import java.util.concurrent.atomic.LongAdder;

/** What happened to the connections the proxy accepted. Every accepted one ends in exactly one. */
final class ProxyStats {
  final LongAdder accepted = new LongAdder();
  final LongAdder handedOff = new LongAdder();
  final LongAdder droppedQueueFull = new LongAdder();
  final LongAdder droppedExpired = new LongAdder();
  final LongAdder droppedShutdown = new LongAdder();
  final LongAdder sendFailures = new LongAdder();

  @Override
  public String toString() {
    return "accepted=" + accepted.sum() + " handed-off=" + handedOff.sum()
        + " dropped-queue-full=" + droppedQueueFull.sum()
        + " dropped-expired=" + droppedExpired.sum()
        + " dropped-at-shutdown=" + droppedShutdown.sum()
        + " send-retries=" + sendFailures.sum();
  }
}
