package dev.handoff.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.lang.ref.WeakReference;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;
import org.junit.jupiter.api.Test;

/** The server's gauges go on reading what they measure after the garbage collector has run. */
class MicrometerMetersTest {
  @Test
  void gaugesReadTheirSuppliersAfterACollection() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    AtomicInteger live = new AtomicInteger(3);
    AtomicInteger links = new AtomicInteger(2);
    // Fresh objects referenced by nothing but the meters, as the server's method references are.
    IntSupplier liveGauge = live::get;
    WeakReference<IntSupplier> watch = new WeakReference<>(liveGauge);
    MicrometerMeters.register(registry, Path.of("/tmp/app.sock"), new ServerStats(), liveGauge,
        100, links::get);
    liveGauge = null;
    for (int i = 0; i < 5 && watch.get() != null; i++) {
      System.gc();
    }
    assertEquals(3.0, registry.get("handoff.app.connections.live").gauge().value());
    assertEquals(2.0, registry.get("handoff.app.links.up").gauge().value());
  }
}
