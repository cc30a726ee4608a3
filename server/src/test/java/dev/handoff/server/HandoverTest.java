package dev.handoff.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.server.ConnectionDetacher.Detached;
import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Acknowledgement.Status;
import dev.handoff.common.HandoffLink;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A take-over from the old app's side, through every outcome, with a fake successor link and a
 * fake app. The rule checked each time: the old app ends either having handed everything over
 * (and only then shuts down) or serving everything it did not hand over, taking handoffs again.
 */
@Timeout(30)
class HandoverTest {
  private static final Duration SHORT = Duration.ofMillis(300);
  private final FakeLink successor = new FakeLink();
  private final FakeSite site = new FakeSite(3);
  private final AtomicBoolean shutDown = new AtomicBoolean();

  private void run() {
    new Handover(successor, site, () -> shutDown.set(true), SHORT, SHORT).run();
  }

  private static Acknowledgement adopted(long id) {
    return new Acknowledgement(id, Status.ADOPTED);
  }

  /** Defect 1a and 1b: the successor goes away before it has bound the path. */
  @Test
  void aSuccessorGoneBeforeItIsReadyLeavesEverythingHereAndTheAppTakingHandoffs() {
    successor.willAnswer(FakeLink.END);
    run();
    assertTrue(site.stopped.get(), "it first stopped taking handoffs");
    assertEquals(1, site.resumedTaking.get(), "then took them again");
    assertEquals(0, site.detached.get(), "no connection was touched");
    assertFalse(shutDown.get());
  }

  @Test
  void aSuccessorThatNeverSaysItIsReadyIsGivenUpOn() {
    run(); // nothing scripted: no answer within the ready timeout
    assertEquals(1, site.resumedTaking.get());
    assertEquals(0, site.detached.get());
    assertFalse(shutDown.get());
    assertTrue(successor.closed);
  }

  @Test
  void everythingAdoptedMeansEveryCopyReleasedAndTheAppShutsDown() {
    successor.willAnswer(adopted(0)).willAnswer(adopted(1)).willAnswer(adopted(2))
        .willAnswer(adopted(3));
    run();
    assertEquals(3, successor.migratedOut.size());
    assertEquals(Set.of(0, 1, 2), site.released);
    assertEquals(Set.of(), site.resumed);
    assertEquals(0, site.resumedTaking.get());
    assertTrue(shutDown.get());
  }

  @Test
  void aConnectionTheSuccessorRefusesIsServedHereAndTheAppCarriesOn() {
    successor.willAnswer(adopted(0)).willAnswer(adopted(1))
        .willAnswer(new Acknowledgement(2, Status.REJECTED)).willAnswer(adopted(3));
    run();
    assertEquals(Set.of(0, 2), site.released);
    assertEquals(Set.of(1), site.resumed);
    assertEquals(1, site.resumedTaking.get());
    assertFalse(shutDown.get());
  }

  /** A send that fails mid-way: what was not sent, and what was sent and not answered, stay. */
  @Test
  void aSendFailingMidwayLeavesTheRestHere() {
    successor.migratedFailFrom = 2;
    successor.willAnswer(adopted(0)).willAnswer(adopted(1)).willAnswer(FakeLink.END);
    run();
    assertTrue(successor.events.contains("shutdown-output"), "it asked the successor to finish");
    assertEquals(Set.of(0), site.released, "m1 was adopted");
    assertEquals(Set.of(1, 2), site.resumed, "m2 failed to send, m3 was never sent");
    assertEquals(1, site.resumedTaking.get());
    assertFalse(shutDown.get());
  }

  /** The successor dies after taking some: the link broke, so its copies died with it. */
  @Test
  void aSuccessorDyingMidMoveLeavesTheUnansweredHere() {
    successor.willAnswer(adopted(0)).willAnswer(adopted(1))
        .willAnswer(new IOException("Connection reset by peer"));
    run();
    assertEquals(Set.of(0), site.released);
    assertEquals(Set.of(1, 2), site.resumed);
    assertEquals(1, site.resumedTaking.get());
    assertFalse(shutDown.get());
  }

  /**
   * A successor that stops answering but keeps its link open may own what it was sent: this app
   * closes its copies (two apps never read one socket) and leaves the path to it.
   */
  @Test
  void aSuccessorThatHangsKeepsWhatItWasSent() {
    successor.willAnswer(adopted(0)).willAnswer(adopted(1));
    run();
    assertEquals(Set.of(0, 1, 2), site.released, "m1 adopted; m2, m3 closed here");
    assertEquals(Set.of(), site.resumed);
    assertTrue(shutDown.get());
  }

  @Test
  void aConnectionThatClosesBeforeItIsDetachedIsNotSent() {
    site.closing.add(1);
    successor.willAnswer(adopted(0)).willAnswer(adopted(1)).willAnswer(adopted(2));
    run();
    assertEquals(2, successor.migratedOut.size());
    assertEquals(Set.of(0, 2), site.released);
    assertTrue(shutDown.get());
  }

  /** An app with {@code n} connections, numbered from 0, recording what becomes of each. */
  private static final class FakeSite implements HandoverSite {
    final int n;
    final AtomicBoolean stopped = new AtomicBoolean();
    final AtomicInteger resumedTaking = new AtomicInteger();
    final AtomicInteger detached = new AtomicInteger();
    final Set<Integer> released = ConcurrentHashMap.newKeySet();
    final Set<Integer> resumed = ConcurrentHashMap.newKeySet();
    final Set<Integer> closing = ConcurrentHashMap.newKeySet();

    FakeSite(int n) {
      this.n = n;
    }

    @Override
    public void stopTakingHandoffs(HandoffLink except) {
      stopped.set(true);
    }

    @Override
    public boolean resumeTakingHandoffs() {
      resumedTaking.incrementAndGet();
      return true;
    }

    @Override
    public List<CompletableFuture<Detached>> detachAll() {
      List<CompletableFuture<Detached>> all = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        detached.incrementAndGet();
        all.add(CompletableFuture.completedFuture(closing.contains(i) ? null
            : new Detached(null, 100 + i, FakeLink.header(i), new byte[i], new byte[0])));
      }
      return all;
    }

    @Override
    public void resume(Detached connection) {
      assertTrue(resumed.add(index(connection)), "resumed once");
      assertFalse(released.contains(index(connection)), "never both");
    }

    @Override
    public void release(Detached connection) {
      assertTrue(released.add(index(connection)), "released once");
      assertFalse(resumed.contains(index(connection)), "never both");
    }

    private static int index(Detached d) {
      return d.fd() - 100;
    }
  }
}
