package dev.handoff.proxy.link;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.HandoffHeader;
import dev.handoff.proxy.accept.AcceptedConnection;
import dev.handoff.proxy.accept.ProxyStats;
import dev.handoff.proxy.accept.WaitLimit;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

class SendLoopTest {
  private static final long JOIN_MS = 10_000;

  private final ProxyStats stats = new ProxyStats(new SimpleMeterRegistry());
  private final BlockingQueue<AcceptedConnection> queue = new LinkedBlockingQueue<>();
  private final AtomicInteger closes = new AtomicInteger();
  private final AtomicInteger attempts = new AtomicInteger();

  private AcceptedConnection accepted(long acceptedNanos) {
    InetSocketAddress addr = new InetSocketAddress(InetAddress.getLoopbackAddress(), 1000);
    return new AcceptedConnection(new HandoffHeader(1, 0, addr, addr), () -> null,
        closes::incrementAndGet, acceptedNanos);
  }

  /** Counted down when the loop looks for a connection with none left: all before are done. */
  private final CountDownLatch idle = new CountDownLatch(1);

  private SendLoop loop(WaitLimit wait, SendLoop.Sender sender) {
    return new SendLoop(wait, millis -> {
      if (queue.isEmpty()) {
        idle.countDown();
      }
      return queue.poll(millis, TimeUnit.MILLISECONDS);
    }, () -> true, (conn, deadline) -> {
      attempts.incrementAndGet();
      return sender.attempt(conn, deadline);
    });
  }

  /** Runs the loop until it has dealt with all queued, then drains it and waits for its end. */
  private void runToEnd(WaitLimit wait, SendLoop loop) throws InterruptedException {
    Thread t = new Thread(loop::run, "send-loop-test");
    t.start();
    assertTrue(idle.await(JOIN_MS, TimeUnit.MILLISECONDS), "the queue was dealt with");
    wait.drain(Duration.ofSeconds(10));
    t.join(JOIN_MS);
    assertFalse(t.isAlive(), "the loop ended");
  }

  private void assertDroppedAsExpiredOnce() {
    assertEquals(1, stats.droppedExpired.sum(), "counted as expired");
    assertEquals(0, stats.droppedShutdown.sum());
    assertEquals(1, closes.get(), "closed once");
  }

  @Test
  void aConnectionPastItsDeadlineIsDroppedOnceWithoutAnAttempt() throws Exception {
    WaitLimit wait = new WaitLimit(Duration.ofSeconds(1), stats, "a test");
    queue.add(accepted(System.nanoTime() - TimeUnit.SECONDS.toNanos(2)));
    runToEnd(wait, loop(wait, (conn, deadline) -> SendLoop.Attempt.SENT));
    assertEquals(0, attempts.get());
    assertDroppedAsExpiredOnce();
  }

  @Test
  void aConnectionIsAttemptedAgainUntilSentAndNeverDropped() throws Exception {
    WaitLimit wait = new WaitLimit(Duration.ofSeconds(30), stats, "a test");
    queue.add(accepted(System.nanoTime()));
    List<SendLoop.Attempt> answers = List.of(SendLoop.Attempt.AGAIN, SendLoop.Attempt.AGAIN,
        SendLoop.Attempt.SENT);
    runToEnd(wait, loop(wait, (conn, deadline) -> answers.get(attempts.get() - 1)));
    assertEquals(3, attempts.get());
    assertEquals(0, stats.droppedExpired.sum() + stats.droppedShutdown.sum());
    assertEquals(0, closes.get(), "a sent connection is the sender's to close");
  }

  @Test
  void aConnectionGivenUpOnIsDroppedOnceAfterOneAttempt() throws Exception {
    WaitLimit wait = new WaitLimit(Duration.ofSeconds(30), stats, "a test");
    queue.add(accepted(System.nanoTime()));
    runToEnd(wait, loop(wait, (conn, deadline) -> SendLoop.Attempt.GIVE_UP));
    assertEquals(1, attempts.get());
    assertDroppedAsExpiredOnce();
  }

  @Test
  void attemptsAgainEndInOneDropOnceTheDeadlinePasses() throws Exception {
    WaitLimit wait = new WaitLimit(Duration.ofMillis(50), stats, "a test");
    long accepted = System.nanoTime();
    queue.add(accepted(accepted));
    runToEnd(wait, loop(wait, (conn, deadline) -> {
      assertEquals(accepted + TimeUnit.MILLISECONDS.toNanos(50), deadline);
      LockSupport.parkNanos(deadline - System.nanoTime()); // as a sender waits for a link
      return SendLoop.Attempt.AGAIN;
    }));
    assertTrue(attempts.get() >= 1);
    assertDroppedAsExpiredOnce();
  }

  @Test
  void connectionsAreTakenInTheSourcesOrder() throws Exception {
    WaitLimit wait = new WaitLimit(Duration.ofSeconds(30), stats, "a test");
    ArrayDeque<Long> sent = new ArrayDeque<>();
    for (long id = 1; id <= 3; id++) {
      InetSocketAddress addr = new InetSocketAddress(InetAddress.getLoopbackAddress(), 1000);
      queue.add(new AcceptedConnection(new HandoffHeader(id, 0, addr, addr), () -> null,
          closes::incrementAndGet, System.nanoTime()));
    }
    runToEnd(wait, loop(wait, (conn, deadline) -> {
      sent.add(conn.header().connectionId());
      return SendLoop.Attempt.SENT;
    }));
    assertEquals(List.of(1L, 2L, 3L), List.copyOf(sent));
  }

  @Test
  void aDrainingLoopEndsOnlyOnceTheSenderSaysItIsDrained() throws Exception {
    WaitLimit wait = new WaitLimit(Duration.ofSeconds(30), stats, "a test");
    wait.drain(Duration.ofSeconds(30));
    CountDownLatch asked = new CountDownLatch(2);
    AtomicBoolean drained = new AtomicBoolean();
    SendLoop loop = new SendLoop(wait, millis -> queue.poll(millis, TimeUnit.MILLISECONDS),
        () -> {
          asked.countDown();
          return drained.get();
        }, (conn, deadline) -> SendLoop.Attempt.SENT);
    Thread t = new Thread(loop::run, "send-loop-test");
    t.start();
    assertTrue(asked.await(JOIN_MS, TimeUnit.MILLISECONDS), "asked while nothing came");
    assertTrue(t.isAlive(), "not drained yet: still running");
    drained.set(true);
    t.join(JOIN_MS);
    assertFalse(t.isAlive(), "drained: ended");
  }

  @Test
  void anInterruptEndsTheLoopWithTheInterruptStatusKept() throws Exception {
    WaitLimit wait = new WaitLimit(Duration.ofSeconds(30), stats, "a test");
    AtomicBoolean interrupted = new AtomicBoolean();
    CountDownLatch polling = new CountDownLatch(1);
    SendLoop loop = new SendLoop(wait, millis -> {
      polling.countDown();
      return queue.poll(millis, TimeUnit.MILLISECONDS);
    }, () -> true, (conn, deadline) -> SendLoop.Attempt.SENT);
    Thread t = new Thread(() -> {
      loop.run();
      interrupted.set(Thread.currentThread().isInterrupted());
    }, "send-loop-test");
    t.start();
    assertTrue(polling.await(JOIN_MS, TimeUnit.MILLISECONDS));
    t.interrupt();
    t.join(JOIN_MS);
    assertFalse(t.isAlive());
    assertTrue(interrupted.get());
  }
}
