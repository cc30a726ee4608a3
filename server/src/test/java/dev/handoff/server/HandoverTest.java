package dev.handoff.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.server.ConnectionDetacher.Detached;
import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Acknowledgement.Status;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.HandoffLink;
import dev.handoff.common.SwitchedConnection;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A take-over from the old app's side, through every outcome, with a fake successor link and a
 * fake app. The rule checked each time: the take-over commits or rolls back as a whole. Either
 * COMMIT was sent after the successor held every connection moved, and only then is every copy
 * here released and the app shut down; or no COMMIT was sent, every connection paused here is
 * served here again, none is released, and the app takes handoffs again.
 */
@Timeout(30)
class HandoverTest {
  private static final Duration SHORT = Duration.ofMillis(300);
  private final FakeLink successor = new FakeLink();
  private final FakeSite site = new FakeSite(3, successor);
  private final AtomicBoolean shutDown = new AtomicBoolean();

  private void run() {
    run(Handover.PAUSE_AHEAD);
  }

  private void run(int pauseAhead) {
    new Handover(successor, false, site, () -> shutDown.set(true), SHORT, pauseAhead)
        .run();
  }

  private static Acknowledgement adopted(long id) {
    return new Acknowledgement(id, Status.ADOPTED);
  }

  private boolean committed() {
    return successor.events.stream().anyMatch(e -> e.startsWith("commit"));
  }

  /** Rolled back as a whole: every connection paused here served again, none released. */
  private void assertRolledBack() {
    assertFalse(committed(), "no COMMIT sent");
    assertEquals(Set.of(), site.released, "no copy released");
    assertEquals(site.paused, site.resumed, "every connection paused here is served here again");
    assertEquals(1, site.resumedTaking.get(), "the app takes handoffs again");
    assertFalse(shutDown.get());
    assertTrue(successor.closed, "the link is ended, so the successor drops what it holds");
  }

  @Test
  void aSuccessorGoneBeforeItIsReadyLeavesEverythingHereAndTheAppTakingHandoffs() {
    successor.willAnswer(FakeLink.END);
    run();
    assertTrue(site.stopped.get(), "it first stopped taking handoffs");
    assertEquals(Set.of(), site.paused, "no connection was touched");
    assertRolledBack();
  }

  @Test
  void aSuccessorThatNeverSaysItIsReadyIsGivenUpOn() {
    run(); // nothing scripted: no answer within the ready timeout
    assertEquals(Set.of(), site.paused);
    assertRolledBack();
  }

  @Test
  void everythingHeldMeansCommitThenEveryCopyReleasedAndTheAppShutsDown() {
    successor.willAnswer(adopted(0)).willAnswer(adopted(1)).willAnswer(adopted(2))
        .willAnswer(adopted(3));
    run();
    assertEquals(3, successor.migratedOut.size());
    assertEquals(new Acknowledgement(Successor.COMMIT_FOLLOWS, Status.ADOPTED),
        successor.answersOut.get(0), "the path is yours, and a COMMIT follows");
    assertEquals("commit 3", successor.events.get(successor.events.size() - 2),
        "COMMIT after the last connection, with the number moved, then the link closed");
    assertEquals("closed", successor.events.get(successor.events.size() - 1));
    assertEquals(Set.of(0, 1, 2), site.released);
    assertEquals(Set.of(), site.resumed);
    assertEquals(0, site.resumedTaking.get());
    assertTrue(shutDown.get());
  }

  /** Each connection is paused just before its own move, not all of them at once. */
  @Test
  void eachConnectionIsPausedJustBeforeItsOwnMove() {
    successor.willAnswer(adopted(0)).willAnswer(adopted(1)).willAnswer(adopted(2))
        .willAnswer(adopted(3));
    run(1);
    assertEquals(List.of("pause 0", "migrated m1", "pause 1", "migrated m2", "pause 2",
        "migrated m3"), pausesAndMoves());
  }

  /** With pauses ahead, no connection is paused more than that many moves before its own. */
  @Test
  void pausesAheadOfTheMovesAreBounded() {
    successor.willAnswer(adopted(0)).willAnswer(adopted(1)).willAnswer(adopted(2))
        .willAnswer(adopted(3));
    run(2);
    assertEquals(List.of("pause 0", "pause 1", "migrated m1", "pause 2", "migrated m2",
        "migrated m3"), pausesAndMoves());
    assertTrue(successor.events.contains("commit 3"));
  }

  /** Connections paused ahead of a move that stopped were never sent: served here again. */
  @Test
  void connectionsPausedAheadOfAFailedSendAreServedHereAgain() {
    successor.migratedFailFrom = 1;
    successor.willAnswer(adopted(0)).willAnswer(FakeLink.END);
    run(3);
    assertEquals(Set.of(0, 1, 2), site.paused);
    assertRolledBack();
  }

  private List<String> pausesAndMoves() {
    return successor.events.stream()
        .filter(e -> e.startsWith("pause") || e.startsWith("migrated")).toList();
  }

  @Test
  void aConnectionTheSuccessorRefusesRollsEverythingBack() {
    successor.willAnswer(adopted(0)).willAnswer(adopted(1))
        .willAnswer(new Acknowledgement(2, Status.REJECTED)).willAnswer(FakeLink.END);
    run();
    assertTrue(site.paused.containsAll(Set.of(0, 1)), "m1 and m2 were sent");
    assertRolledBack();
  }

  @Test
  void aConnectionTheSuccessorAnswersRetryForRollsEverythingBack() {
    successor.willAnswer(adopted(0)).willAnswer(new Acknowledgement(1, Status.RETRY))
        .willAnswer(FakeLink.END);
    run();
    assertRolledBack();
  }

  /** The successor dies after 2 of 3 moved: the link broke before the commit. */
  @Test
  void aSuccessorDyingBeforeTheCommitAfterSomeMovedRollsEverythingBack() {
    successor.migratedFailFrom = 3;
    successor.willAnswer(adopted(0)).willAnswer(adopted(1)).willAnswer(adopted(2))
        .willAnswer(new IOException("Connection reset by peer"));
    run();
    assertEquals(2, successor.migratedOut.size(), "2 of 3 moved");
    assertEquals(Set.of(0, 1, 2), site.paused, "the third was paused, its send failed");
    assertRolledBack();
  }

  /** The successor dies once it holds everything, before the commit is sent. */
  @Test
  void aSuccessorDyingAfterHoldingEverythingButBeforeTheCommitRollsEverythingBack() {
    successor.commitFails = true;
    successor.willAnswer(adopted(0)).willAnswer(adopted(1)).willAnswer(adopted(2))
        .willAnswer(adopted(3)).willAnswer(FakeLink.END);
    run();
    assertEquals(Set.of(0, 1, 2), site.paused);
    assertRolledBack();
  }

  /** A successor that stops answering (but keeps its link open) is given up on. */
  @Test
  void aSuccessorThatDoesNotAnswerInTimeRollsEverythingBack() {
    successor.willAnswer(adopted(0)).willAnswer(adopted(1));
    run();
    assertEquals(Set.of(0, 1, 2), site.paused);
    assertTrue(successor.events.contains("shutdown-output"), "it told the successor it ended");
    assertRolledBack();
  }

  /**
   * The timeout bounds each wait for the successor's next answer, not the whole move: a successor
   * that answers every connection within it commits, however long all of them take together.
   */
  @Test
  void aSuccessorThatKeepsAnsweringCommitsThoughTheWholeMoveTakesLongerThanTheTimeout() {
    Duration timeout = Duration.ofMillis(1000);
    successor.answerDelayMillis = 450; // the three answers take 1350 ms or more in all
    successor.willAnswer(adopted(0)).willAnswer(adopted(1)).willAnswer(adopted(2))
        .willAnswer(adopted(3));
    long start = System.nanoTime();
    new Handover(successor, false, site, () -> shutDown.set(true), timeout).run();
    assertTrue(System.nanoTime() - start > timeout.toNanos(), "the move outlasted the timeout");
    assertTrue(successor.events.contains("commit 3"), successor.events::toString);
    assertEquals(Set.of(0, 1, 2), site.released);
    assertTrue(shutDown.get());
  }

  @Test
  void aConnectionThatClosesBeforeItIsPausedIsNotSentAndTheRestCommit() {
    site.closing.add(1);
    successor.willAnswer(adopted(0)).willAnswer(adopted(1)).willAnswer(adopted(2));
    run();
    assertEquals(2, successor.migratedOut.size());
    assertTrue(successor.events.contains("commit 2"));
    assertEquals(Set.of(0, 2), site.released);
    assertTrue(shutDown.get());
  }

  // Two-phase moves: copies first while the app serves on, then one switch.

  private void runTwoPhase() {
    new Handover(successor, true, site, () -> shutDown.set(true), SHORT, 1).run();
  }

  private List<String> phases() {
    return successor.events.stream().filter(e -> e.startsWith("prepared") || e.startsWith("pause")
        || e.startsWith("switch") || e.startsWith("commit")).toList();
  }

  /** Every copy of a descriptor taken for the move was closed, exactly once (DescriptorCopy). */
  private void assertEveryCopyClosed() {
    for (DescriptorCopy copy : site.copies) {
      assertTrue(copy.closed(), "copy of " + copy.header() + " closed");
    }
    for (java.io.FileDescriptor fd : site.copyFds) {
      assertFalse(fd.valid(), "the descriptor copied is closed");
    }
  }

  @Test
  void twoPhasesSendEveryCopyBeforePausingAnyThenSwitchAllAtOnceThenCommit() {
    site.twoPhase = true;
    successor.willAnswer(adopted(0)).willAnswer(adopted(1)).willAnswer(adopted(2))
        .willAnswer(adopted(3)).willAnswer(adopted(0));
    runTwoPhase();
    assertEquals(new Acknowledgement(Successor.TWO_PHASE, Status.ADOPTED),
        successor.answersOut.get(0), "the path is yours, and the move is in two phases");
    assertEquals(List.of("prepared m1", "prepared m2", "prepared m3", "pause 0", "pause 1",
        "pause 2", "switch 3", "commit 3"), phases(),
        "no connection paused before every copy was held; one switch; then COMMIT");
    assertEquals(List.of(), successor.migratedOut, "nothing moved one at a time");
    for (int i = 0; i < 3; i++) {
      SwitchedConnection c = successor.switchedOut.get(i);
      assertEquals(HandoffHeader.Kind.SWITCHED, c.header().kind());
      assertEquals(i + 1, c.header().connectionId(), "the id of its PREPARED message");
      assertArrayEquals(new byte[i], c.pending(), "its unsent bytes");
      assertArrayEquals(FakeSite.state(i), c.state(), "its handlers' state");
      assertEquals(i, c.header().pendingBytes());
    }
    assertEquals(Set.of(0, 1, 2), site.released);
    assertEquals(Set.of(), site.resumed);
    assertEveryCopyClosed();
    assertTrue(shutDown.get());
  }

  /**
   * A successor that reads batches gets the copies several to a message, in order, and the switch
   * in SWITCHES messages.
   */
  @Test
  void copiesAndTheSwitchGoSeveralToAMessageToASuccessorThatReadsThem() {
    site.twoPhase = true;
    successor.willAnswer(adopted(0)).willAnswer(adopted(1)).willAnswer(adopted(2))
        .willAnswer(adopted(3)).willAnswer(adopted(0));
    new Handover(successor, true, site, () -> shutDown.set(true), SHORT, 1, 2).run();
    assertEquals(List.of("copies 2", "prepared m1", "prepared m2", "copies 1", "prepared m3",
        "pause 0", "pause 1", "pause 2", "switches 3", "switch 3", "commit 3"),
        successor.events.stream()
        .filter(e -> e.startsWith("copies") || e.startsWith("prepared") || e.startsWith("pause")
            || e.startsWith("switch") || e.startsWith("commit")).toList(),
        "two copies to a message, numbered in order; then the switch in SWITCHES, and COMMIT");
    assertEquals(Set.of(0, 1, 2), site.released);
    assertEveryCopyClosed();
    assertTrue(shutDown.get());
  }

  @Test
  void aSuccessorGoneBetweenThePhasesLeavesEveryConnectionServedHereAndNonePaused() {
    site.twoPhase = true;
    successor.willAnswer(adopted(0)).willAnswer(adopted(1)).willAnswer(adopted(2))
        .willAnswer(FakeLink.END);
    runTwoPhase();
    assertEquals(Set.of(), site.paused, "no connection was paused: each was served throughout");
    assertEquals(List.of(), successor.switchedOut);
    assertEveryCopyClosed();
    assertRolledBack();
  }

  @Test
  void aCopyTheSuccessorCannotHoldRollsEverythingBackBeforeAnyPause() {
    site.twoPhase = true;
    successor.willAnswer(adopted(0)).willAnswer(adopted(1))
        .willAnswer(new Acknowledgement(2, Status.RETRY)).willAnswer(FakeLink.END);
    runTwoPhase();
    assertEquals(Set.of(), site.paused);
    assertEveryCopyClosed();
    assertRolledBack();
  }

  @Test
  void aFailedSwitchServesEveryPausedConnectionHereAgain() {
    site.twoPhase = true;
    successor.switchFails = true;
    successor.willAnswer(adopted(0)).willAnswer(adopted(1)).willAnswer(adopted(2))
        .willAnswer(adopted(3));
    runTwoPhase();
    assertEquals(Set.of(0, 1, 2), site.paused);
    assertEveryCopyClosed();
    assertRolledBack();
  }

  @Test
  void aSuccessorThatDoesNotAnswerTheSwitchRollsEverythingBack() {
    site.twoPhase = true;
    successor.willAnswer(adopted(0)).willAnswer(adopted(1)).willAnswer(adopted(2))
        .willAnswer(adopted(3));
    runTwoPhase();
    assertTrue(successor.events.contains("switch 3"));
    assertEquals(Set.of(0, 1, 2), site.paused);
    assertRolledBack();
  }

  @Test
  void aConnectionGoneDuringThePrepareIsSwitchedAsDroppedAndTheRestCommit() {
    site.twoPhase = true;
    site.closing.add(1);
    successor.willAnswer(adopted(0)).willAnswer(adopted(1)).willAnswer(adopted(2))
        .willAnswer(adopted(3)).willAnswer(adopted(0));
    runTwoPhase();
    assertEquals(List.of(HandoffHeader.Kind.SWITCHED, HandoffHeader.Kind.DROPPED,
        HandoffHeader.Kind.SWITCHED), successor.switchedOut.stream()
        .map(c -> c.header().kind()).toList(), "m2 dropped: the successor closes its copy");
    assertTrue(successor.events.contains("commit 2"));
    assertEquals(Set.of(0, 2), site.released);
    assertEveryCopyClosed();
    assertTrue(shutDown.get());
  }

  @Test
  void anAppThatCannotCopyDescriptorsMovesThemOneAtATimeAndSaysSo() {
    site.twoPhase = false; // as an app whose connections are its caller's (HandoffAcceptor)
    successor.willAnswer(adopted(0)).willAnswer(adopted(1)).willAnswer(adopted(2))
        .willAnswer(adopted(3));
    runTwoPhase();
    assertEquals(new Acknowledgement(Successor.COMMIT_FOLLOWS, Status.ADOPTED),
        successor.answersOut.get(0));
    assertEquals(3, successor.migratedOut.size());
    assertTrue(successor.events.contains("commit 3"));
  }

  /**
   * An app with {@code n} connections, numbered from 0, recording what becomes of each; pausing
   * one is recorded on the link's events too ("pause 0"), to see the order of pauses and moves.
   */
  private static final class FakeSite implements HandoverSite {
    final int n;
    final FakeLink link;
    final AtomicBoolean stopped = new AtomicBoolean();
    final AtomicInteger resumedTaking = new AtomicInteger();
    final Set<Integer> paused = ConcurrentHashMap.newKeySet();
    final Set<Integer> released = ConcurrentHashMap.newKeySet();
    final Set<Integer> resumed = ConcurrentHashMap.newKeySet();
    final Set<Integer> closing = ConcurrentHashMap.newKeySet();
    /** Whether it can copy descriptors (an app serving Netty pipelines). */
    volatile boolean twoPhase;
    /** The copies it made, and the descriptors they held. */
    final List<DescriptorCopy> copies = new ArrayList<>();
    final List<java.io.FileDescriptor> copyFds = new ArrayList<>();

    FakeSite(int n, FakeLink link) {
      this.n = n;
      this.link = link;
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
    public List<Supplier<CompletableFuture<Detached>>> movable() {
      List<Supplier<CompletableFuture<Detached>>> all = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        int index = i;
        all.add(() -> {
          if (closing.contains(index)) {
            return CompletableFuture.completedFuture(null);
          }
          assertTrue(paused.add(index), "paused once");
          link.events.add("pause " + index);
          return CompletableFuture.completedFuture(new Detached(null, 100 + index,
              FakeLink.header(index), new byte[index], new byte[0]));
        });
      }
      return all;
    }

    static byte[] state(int index) {
      return ("state of " + index).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    }

    /** Copies of /dev/null, real descriptors a test can see closed. */
    @Override
    public List<DescriptorCopy> copies() {
      if (!twoPhase) {
        return null;
      }
      for (int i = 0; i < n; i++) {
        try {
          java.io.FileDescriptor fd = new java.io.FileInputStream("/dev/null").getFD();
          copyFds.add(fd);
          copies.add(new DescriptorCopy(null, FakeLink.header(i), fd));
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }
      return copies;
    }

    @Override
    public List<CompletableFuture<Detached>> pause(List<DescriptorCopy> toPause) {
      assertEquals(copies, toPause, "the connections of the copies, in order");
      List<CompletableFuture<Detached>> all = new ArrayList<>();
      for (int i = 0; i < toPause.size(); i++) {
        if (closing.contains(i)) {
          all.add(CompletableFuture.completedFuture(null));
          continue;
        }
        assertTrue(paused.add(i), "paused once");
        link.events.add("pause " + i);
        all.add(CompletableFuture.completedFuture(new Detached(null, 100 + i,
            FakeLink.header(i), new byte[i], state(i))));
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

  /**
   * The switch pauses the connections whose clients sent data longest ago first and the busiest
   * last (the successor serves the last switched first); connections alike keep their order.
   */
  @Test
  void theSwitchPausesTheQuietestConnectionsFirstAndTheBusiestLast() {
    assertArrayEquals(new Integer[] {1, 0, 3, 4, 2},
        Handover.quietestFirst(new long[] {40, 9_000, 2, 40, 5}));
    assertArrayEquals(new Integer[] {0, 1, 2},
        Handover.quietestFirst(new long[] {Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE}),
        "connections the kernel cannot say of (a test's) keep the order prepared");
  }
}
