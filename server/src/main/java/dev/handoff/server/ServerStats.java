package dev.handoff.server;

import java.util.concurrent.atomic.LongAdder;

/**
 * What the app did with the handoffs it received, shared by every link reader. The lifetime
 * latency histogram feeds the shutdown summary; when the app has a meter registry, {@link
 * MicrometerMeters} publishes the counts and a timer for scrapes. Micrometer is optional: this
 * class does not touch it.
 */
final class ServerStats {
  /** Handoffs whose connection this app now serves. */
  final LongAdder adopted = new LongAdder();
  /** Handoff messages refused, whatever the reason. */
  final LongAdder refused = new LongAdder();
  /** Connections a previous app handed over during a take-over. */
  final LongAdder migratedIn = new LongAdder();
  /** Answers a proxy could no longer be sent. */
  final LongAdder answersLost = new LongAdder();
  final LatencyHistogram latency = new LatencyHistogram();
  private volatile Recorder meters = Recorder.NONE;

  /** Where the events that a count alone does not carry are also recorded. */
  interface Recorder {
    Recorder NONE = new Recorder() {
      @Override
      public void adopted(long micros) {}

      @Override
      public void refused(String reason) {}
    };

    void adopted(long micros);

    void refused(String reason);
  }

  /** From now on, also records to {@code meters}. */
  void publishTo(Recorder meters) {
    this.meters = meters;
  }

  void adopted(long micros) {
    adopted.increment();
    latency.record(micros);
    meters.adopted(micros);
  }

  void refused(String reason) {
    refused.increment();
    meters.refused(reason);
  }
}
