package dev.handoff.proxy.link;

import dev.handoff.proxy.accept.AcceptedConnection;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Acknowledgement.Status;
import dev.handoff.common.HandoffException;
import dev.handoff.proxy.link.Harness.End;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every transition of one {@link AppLink}, driven by hand over a fake transport. */
class AppLinkTest {
  private final Harness h = new Harness();

  private AppLink up(int window) {
    AppLink link = h.link("app", window);
    link.maintain(h.clock.get());
    assertEquals(AppLink.State.UP, link.state());
    return link;
  }

  private static Acknowledgement ack(AcceptedConnection c, Status status) {
    return new Acknowledgement(c.id(), status);
  }

  @Test
  void upSendAdoptedClosesTheCopyOnce() {
    AppLink link = up(4);
    AcceptedConnection c = h.accept();
    assertTrue(link.send(c));
    assertEquals(List.of(1L), h.last().written);
    assertEquals(1, link.inFlight());
    link.answered(ack(c, Status.ADOPTED));
    assertEquals(List.of(End.ADOPTED), h.endsOf(c.id()));
    assertEquals(1, h.closes.get(c.id()));
    assertEquals(0, link.inFlight());
    assertEquals(1, h.stats.sent.sum());
  }

  @Test
  void rejectedClosesTheCopy() {
    AppLink link = up(4);
    AcceptedConnection c = h.accept();
    link.send(c);
    link.answered(ack(c, Status.REJECTED));
    assertEquals(List.of(End.REJECTED), h.endsOf(c.id()));
    assertEquals(1, h.closes.get(c.id()));
  }

  @Test
  void aFullWindowTakesNoMore() {
    AppLink link = up(2);
    link.send(h.accept());
    assertTrue(link.canTake());
    AcceptedConnection second = h.accept();
    link.send(second);
    assertFalse(link.canTake(), "window of 2 is full");
    link.answered(ack(second, Status.ADOPTED));
    assertTrue(link.canTake());
  }

  @Test
  void theAppClosingTheLinkWithHandoffsUnansweredSendsThemAgain() {
    AppLink link = up(4);
    AcceptedConnection a = h.accept();
    AcceptedConnection b = h.accept();
    link.send(a);
    link.send(b);
    link.answered(ack(a, Status.ADOPTED));
    link.ended("end of stream");
    assertEquals(AppLink.State.DOWN, link.state());
    assertEquals(List.of(b), h.resent, "the app answers all it keeps before closing");
    assertEquals(0, h.closes.get(b.id()), "the proxy keeps its copy to send again");
    link.maintain(h.clock.get());
    assertEquals(AppLink.State.UP, link.state(), "an app that closed is linked again at once");
  }

  /** The state-machine half of shutting down under load: see ProxyShutdownUnderLoadIT for the whole. */
  @Test
  void aLinkTheProxyClosesAtShutdownIsNeitherResentNorRelinked() {
    AppLink link = up(4);
    AcceptedConnection c = h.accept();
    link.send(c);
    link.stopLinking();
    link.close();
    assertTrue(h.last().closed);
    link.ended("Socket closed"); // the reader wakes up: the read fails, or reads the end
    assertEquals(List.of(), h.resent, "the app may have taken it: never sent again");
    assertEquals(List.of(End.ABANDONED), h.endsOf(c.id()));
    assertEquals(1, h.closes.get(c.id()));
    h.advance(Duration.ofSeconds(10));
    link.maintain(h.clock.get());
    assertEquals(AppLink.State.DOWN, link.state(), "no new link while shutting down");
    assertEquals(1, h.transports.size());
  }

  @Test
  void theAppClosingDuringShutdownDoesNotBringARelink() {
    AppLink link = up(4);
    link.stopLinking();
    link.ended("end of stream");
    link.maintain(h.clock.get());
    assertEquals(AppLink.State.DOWN, link.state());
    assertEquals(1, h.transports.size());
  }

  @Test
  void shutdownDuringTheConnectClosesTheNewLink() {
    AppLink link = h.link("app", 4);
    h.duringConnect = link::stopLinking;
    link.maintain(h.clock.get());
    assertEquals(AppLink.State.DOWN, link.state());
    assertTrue(h.last().closed, "the link made during the shutdown is closed at once");
    assertFalse(link.send(h.accept()));
  }

  /** The state-machine half of a stopped app: see StoppedAppIT for the whole. */
  @Test
  void aLinkThatTimedOutIsClosedByTheProxyAndOnlyProbedOnRelink() {
    AppLink link = up(256);
    AcceptedConnection a = h.accept();
    AcceptedConnection b = h.accept();
    link.send(a);
    link.send(b);
    FakeTransport first = h.last();
    h.advance(Harness.ACK_TIMEOUT.plusMillis(1));
    link.maintain(h.clock.get());
    assertTrue(first.closed, "the proxy closed the link");
    link.ended("Socket closed");
    assertEquals(List.of(End.ABANDONED), h.endsOf(a.id()), "left to the app, copy closed");
    assertEquals(List.of(End.ABANDONED), h.endsOf(b.id()));
    assertEquals(List.of(), h.resent, "not sent elsewhere: the stopped app may own them");

    link.maintain(h.clock.get());
    assertEquals(AppLink.State.DOWN, link.state(), "no re-link at once to an app that timed out");
    h.advance(Harness.RETRY_MAX);
    link.maintain(h.clock.get());
    assertEquals(AppLink.State.UP, link.state());
    assertFalse(link.healthy());
    assertTrue(link.canTake());
    AcceptedConnection probe = h.accept();
    assertTrue(link.send(probe));
    assertFalse(link.canTake(), "one handoff (the probe) until the app answers");
    link.answered(ack(probe, Status.ADOPTED));
    assertTrue(link.healthy());
    for (int i = 0; i < 10; i++) {
      assertTrue(link.canTake());
      link.send(h.accept());
    }
  }

  @Test
  void retryPausesTheLinkWithABackoffBoundedByRetryMax() {
    AppLink link = up(256);
    AcceptedConnection c = h.accept();
    link.send(c);
    link.answered(ack(c, Status.RETRY));
    assertEquals(List.of(c), h.retried);
    assertEquals(0, h.closes.get(c.id()), "the proxy keeps its copy");
    assertFalse(link.canTake(), "paused after RETRY");
    h.advance(Harness.RETRY_MIN);
    assertTrue(link.canTake(), "the pause is --retry-min at first");
    long pause = Harness.RETRY_MIN.toNanos();
    for (int round = 0; round < 8; round++) {
      assertTrue(link.send(c));
      assertFalse(link.canTake(), "one at a time while the app is out of room");
      link.answered(ack(c, Status.RETRY));
      pause = Math.min(pause * 2, Harness.RETRY_MAX.toNanos());
      h.advance(Duration.ofNanos(pause - 1));
      assertFalse(link.canTake(), "round " + round + ": pause " + pause + " ns not over");
      h.advance(Duration.ofNanos(1));
      assertTrue(link.canTake());
    }
    assertEquals(Harness.RETRY_MAX.toNanos(), pause, "bounded by --retry-max");
    link.send(c);
    link.answered(ack(c, Status.ADOPTED));
    assertTrue(link.healthy());
    link.send(h.accept());
    assertTrue(link.canTake(), "room again: the full window");
  }

  @Test
  void aFailedSendComesBackAndTheLinkDrains() {
    AppLink link = up(4);
    AcceptedConnection sent = h.accept();
    link.send(sent);
    AcceptedConnection c = h.accept();
    h.last().failNextSend = new IOException("Broken pipe");
    assertFalse(link.send(c), "nothing was written: the caller keeps it");
    assertEquals(AppLink.State.DRAINING, link.state());
    assertFalse(link.canTake());
    assertEquals(0, h.closes.get(c.id()));
    assertEquals(List.of(), h.endsOf(c.id()));
    assertFalse(link.holds(c.id()));
    assertEquals(1, h.stats.sent.sum());
    link.answered(ack(sent, Status.ADOPTED));
    link.ended("end of stream");
    assertEquals(List.of(), h.resent);
  }

  @Test
  void aCloseDuringTheSendLeavesTheConnectionToTheApp() {
    AppLink link = up(4);
    AcceptedConnection c = h.accept();
    h.last().duringNextSend = link::close;
    assertTrue(link.send(c), "the link disposed of it");
    assertEquals(List.of(End.ABANDONED), h.endsOf(c.id()), "it may have been written");
    assertEquals(1, h.closes.get(c.id()));
    link.ended("Socket closed");
    assertEquals(List.of(), h.resent);
    assertEquals(List.of(End.ABANDONED), h.endsOf(c.id()), "settled once");
  }

  /**
   * Found by ReliabilityIT after the merge: an app stopping with SIGTERM shuts its side; a send
   * fails (broken pipe) while the reader, seeing the app's end of stream, closes the link. The
   * close was the proxy's reader answering the app, not the proxy giving up: the connection goes
   * back to be sent elsewhere, not abandoned (which reset its client).
   */
  @Test
  void aSendFailingWhileTheAppEndsTheLinkGoesElsewhere() {
    AppLink link = up(4);
    AcceptedConnection c = h.accept();
    h.last().duringNextSend = () -> link.ended("end of stream");
    assertFalse(link.send(c), "back with the caller");
    assertEquals(List.of(), h.endsOf(c.id()), "not abandoned");
    assertEquals(0, h.closes.get(c.id()), "the proxy keeps its copy");
  }

  @Test
  void closingDrainsThenTheAppsEndOfStreamSendsTheRestAgain() {
    AppLink link = up(4);
    AcceptedConnection a = h.accept();
    AcceptedConnection b = h.accept();
    link.send(a);
    link.send(b);
    link.answered(new Acknowledgement(0, Status.CLOSING));
    assertEquals(AppLink.State.DRAINING, link.state());
    assertTrue(h.last().outputShut);
    assertFalse(link.send(h.accept()), "no sends after CLOSING");
    link.answered(ack(a, Status.ADOPTED));
    link.ended("end of stream");
    assertEquals(List.of(b), h.resent);
  }

  @Test
  void anAnswerForAnUnknownIdIsCountedAndIgnored() {
    AppLink link = up(4);
    link.answered(new Acknowledgement(99, Status.ADOPTED));
    assertEquals(1, h.stats.unknownAcks.sum());
    assertEquals(AppLink.State.UP, link.state());
  }

  @Test
  void unknownStatusIsCountedAndTheLinkGoesOn() {
    AppLink link = up(4);
    AcceptedConnection c = h.accept();
    link.send(c);
    FakeTransport t = h.last();
    t.inbox.add(new HandoffException(HandoffException.Reason.UNKNOWN_STATUS, c.id(), "status 9"));
    t.inbox.add(new HandoffException(HandoffException.Reason.UNKNOWN_STATUS, c.id(), "status 9"));
    t.inbox.add(ack(c, Status.ADOPTED));
    t.inbox.add(new IOException("stop here"));
    h.readers.get(0).run(); // the reader loop, on this thread
    assertEquals(2, h.stats.unknownStatus.sum());
    assertEquals(List.of(End.ADOPTED), h.endsOf(c.id()), "the answer after it was read");
  }

  @Test
  void lostFramingClosesTheLinkAndLeavesTheUnansweredToTheApp() {
    AppLink link = up(4);
    AcceptedConnection c = h.accept();
    link.send(c);
    h.last().inbox.add(new HandoffException(HandoffException.Reason.BAD_MAGIC, "garbage"));
    h.readers.get(0).run();
    assertTrue(h.last().closed);
    assertEquals(AppLink.State.DOWN, link.state());
    assertEquals(List.of(End.ABANDONED), h.endsOf(c.id()));
    assertEquals(List.of(), h.resent);
  }

  @Test
  void aRefusedOrMissingAppIsRetriedWithBackoff() {
    AppLink link = h.link("app", 4);
    h.connectFailure = new IOException("No such file or directory");
    link.maintain(h.clock.get());
    assertEquals(AppLink.State.DOWN, link.state());
    h.connectFailure = null;
    link.maintain(h.clock.get());
    assertEquals(AppLink.State.DOWN, link.state(), "not before the backoff");
    h.advance(Harness.RETRY_MIN);
    link.maintain(h.clock.get());
    assertEquals(AppLink.State.UP, link.state());
    assertNull(h.connectFailure);
  }

  @Test
  void aSecondEndOfTheSameLinkChangesNothing() {
    AppLink link = up(4);
    AcceptedConnection c = h.accept();
    link.send(c);
    link.ended("end of stream");
    link.maintain(h.clock.get());
    FakeTransport second = h.last();
    link.ended("end of stream"); // ends the second link, which holds nothing
    assertSame(second, h.last());
    assertEquals(List.of(c), h.resent);
  }

  /**
   * Defect 2's cause in the real run: the shutdown interrupted the acceptor during a send, the JDK
   * closed the link, and the reader took that close for the app's.
   */
  @Test
  void aLinkClosedOnTheProxysSideByAnInterruptIsNotTakenForTheAppsClose() {
    AppLink link = up(4);
    AcceptedConnection inFlight = h.accept();
    link.send(inFlight);
    AcceptedConnection c = h.accept();
    FakeTransport t = h.last();
    t.duringNextSend = t::close; // as the JDK does on an interrupt: no AppLink.close()
    assertTrue(link.send(c), "it may have been written: the link disposed of it");
    assertEquals(List.of(End.ABANDONED), h.endsOf(c.id()));
    link.ended("end of stream"); // what the reader reads after such a close
    assertEquals(List.of(), h.resent, "not the app's close: nothing is sent again");
    assertEquals(List.of(End.ABANDONED), h.endsOf(inFlight.id()));
  }

  @Test
  void theReaderSeeingALocalCloseFirstLeavesTheUnansweredToTheApp() {
    AppLink link = up(4);
    AcceptedConnection c = h.accept();
    link.send(c);
    h.last().close(); // closed on this side, the sender has not noticed yet
    link.ended("end of stream");
    assertEquals(List.of(), h.resent);
    assertEquals(List.of(End.ABANDONED), h.endsOf(c.id()));
  }

  /**
   * The proxy must not log its final counters while a link's reader is still counting the
   * handoffs left unanswered at shutdown. The link is DOWN before its reader goes
   * through them, so the proxy waits for {@link AppLink#settled}, which holds only after the last.
   */
  @Test
  void aLinkClosedAtShutdownIsSettledOnlyOnceEveryUnansweredHandoffIsCounted() {
    AppLink link = up(4);
    AcceptedConnection a = h.accept();
    AcceptedConnection b = h.accept();
    link.send(a);
    link.send(b);
    List<String> seenWhileCounting = new java.util.ArrayList<>();
    h.duringAbandon = () -> seenWhileCounting.add(link.state() + " settled=" + link.settled());
    link.close();
    assertFalse(link.settled(), "closed, but its reader has not settled it yet");
    h.readers.get(0).run();
    assertEquals(List.of("DOWN settled=false", "DOWN settled=false"), seenWhileCounting);
    assertTrue(link.settled());
    assertEquals(List.of(End.ABANDONED), h.endsOf(a.id()));
    assertEquals(List.of(End.ABANDONED), h.endsOf(b.id()));
  }
}
