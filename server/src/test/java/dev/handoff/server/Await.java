package dev.handoff.server;

import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Waits in tests for a condition, with a deadline, failing with a message. */
final class Await {
  private Await() {}

  static void until(Duration timeout, BooleanSupplier condition, Supplier<String> message)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - deadline > 0) {
        fail("not within " + timeout + ": " + message.get());
      }
      Thread.onSpinWait();
      Thread.yield();
      java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
    }
  }
}
