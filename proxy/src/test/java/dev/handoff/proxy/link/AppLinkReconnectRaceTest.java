package dev.handoff.proxy.link;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The reader thread ends a link while the maintenance thread looks for a link to make: the
 * maintenance thread must see the end and the next attempt's time together, never the one
 * without the other. The interleaving is forced: the maintenance thread runs while the reader is
 * inside {@code ended()}, between taking the link away and setting the next attempt.
 */
class AppLinkReconnectRaceTest {

  @Test
  void aLinkThatTimedOutIsNotMadeAgainBeforeItsBackoffWhileItIsBeingEnded() throws Exception {
    Harness h = new Harness();
    AtomicReference<Runnable> atNextClockRead = new AtomicReference<>();
    AppLink link = new AppLink(Path.of("/run/a.sock"), h, h.stats, Harness.config(4),
        socket -> {
          FakeTransport t = new FakeTransport();
          synchronized (h.transports) {
            h.transports.add(t);
          }
          return t;
        },
        () -> {
          Runnable hook = atNextClockRead.getAndSet(null);
          if (hook != null) {
            hook.run();
          }
          return h.clock.get();
        },
        reader -> { }); // the test plays the reader
    link.maintain(h.clock.get());
    assertEquals(AppLink.State.UP, link.state());
    assertTrue(link.send(h.accept()));
    h.advance(Harness.ACK_TIMEOUT.plusMillis(1));
    link.maintain(h.clock.get()); // no answer in time: the proxy closes the link
    long now = h.clock.get();

    Thread maintainer = new Thread(() -> link.maintain(now), "maintain");
    // ended() reads the clock for the next attempt once the link is gone: run the maintenance
    // thread right then, and let ended() go on once that thread is waiting for it or done.
    atNextClockRead.set(() -> {
      maintainer.start();
      awaitBlockedOrDone(maintainer);
    });
    link.ended("the proxy closed it");
    maintainer.join(TimeUnit.SECONDS.toMillis(10));
    assertFalse(maintainer.isAlive(), "the maintenance thread is stuck");

    assertEquals(1, h.transports.size(), "linked again at once, before the backoff");
    assertEquals(AppLink.State.DOWN, link.state());
    h.advance(Harness.RETRY_MIN);
    link.maintain(h.clock.get());
    assertEquals(AppLink.State.UP, link.state(), "linked again once the backoff passed");
    assertEquals(2, h.transports.size());
  }

  private static void awaitBlockedOrDone(Thread t) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      Thread.State state = t.getState();
      if (state == Thread.State.BLOCKED || state == Thread.State.TERMINATED) {
        return;
      }
      if (System.nanoTime() - deadline > 0) {
        fail("the maintenance thread neither finished nor waited for the lock: " + state);
      }
      Thread.onSpinWait();
    }
  }
}
