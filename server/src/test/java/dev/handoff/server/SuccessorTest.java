package dev.handoff.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Acknowledgement.Status;
import dev.handoff.common.HandoffChannel;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.ReceivedHandoff;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * The successor's side of a take-over: the request, against a real unix socket standing in for
 * the old app, which answers what a real one answers in each race between two successors; and the
 * moved connections, held without being served until the old app's COMMIT, on a fake link.
 */
@Timeout(30)
class SuccessorTest {
  @TempDir Path dir;
  /** Stands for the socket path a successor has bound. */
  private final java.io.Closeable path = () -> { };

  /**
   * What the successor makes of the old app's one answer to its TAKEOVER request.
   *
   * @return the error the request failed with
   */
  private IOException refusedWith(Status answer) throws Exception {
    Path socket = dir.resolve("app.sock");
    try (AFUNIXServerSocketChannel listener = AFUNIXServerSocketChannel.open()) {
      listener.bind(AFUNIXSocketAddress.of(socket));
      CompletableFuture<HandoffHeader> asked = CompletableFuture.supplyAsync(() -> {
        try (HandoffChannel oldApp = HandoffChannel.accepted(listener.accept(), "successor");
            ReceivedHandoff request = oldApp.receive()) {
          oldApp.sendAck(new Acknowledgement(0, answer));
          oldApp.awaitEnd();
          return request.header();
        } catch (IOException e) {
          throw new IllegalStateException(e);
        }
      });
      IOException e = assertThrows(IOException.class,
          () -> Successor.requestTakeOver(socket, Duration.ofSeconds(10)));
      HandoffHeader request = asked.get(10, TimeUnit.SECONDS);
      assertEquals(HandoffHeader.Kind.TAKEOVER, request.kind());
      assertEquals(Successor.TWO_PHASE, request.connectionId(), "it asks for a two-phase move");
      assertEquals(Successor.READS_BATCHES, request.acceptedAtMicros() & Successor.READS_BATCHES,
          "it says it reads several copies to a message");
      return e;
    }
  }

  /**
   * A successor whose link the old app accepted just before it began handing over to another
   * successor gets the CLOSING every link gets then: it fails saying the app is closing, with the
   * advice the other lost races give (another take-over may be under way), not as an app that
   * did not agree to hand over.
   */
  @Test
  void aSuccessorAnsweredClosingLostARaceAndSaysSo() throws Exception {
    IOException e = refusedWith(Status.CLOSING);
    assertTrue(e.getMessage().contains("is closing"), e.getMessage());
    assertTrue(e.getMessage().contains(Successor.ANOTHER), e.getMessage());
  }

  @Test
  void aSuccessorRefusedBecauseATakeOverIsUnderWaySaysSo() throws Exception {
    IOException e = refusedWith(Status.REJECTED);
    assertTrue(e.getMessage().contains("already being taken over"), e.getMessage());
  }

  @Test
  void anAnswerOutsideTheProtocolIsNamed() throws Exception {
    IOException e = refusedWith(Status.RETRY);
    assertTrue(e.getMessage().contains("did not agree to hand over (RETRY)"), e.getMessage());
  }

  private static ReceivedHandoff moved(long id) throws IOException {
    HandoffHeader h = FakeLink.header(id);
    java.io.FileInputStream devNull = new java.io.FileInputStream("/dev/null");
    return new ReceivedHandoff(new HandoffHeader(id, h.acceptedAtMicros(), h.client(), h.local(),
        HandoffHeader.Kind.MIGRATED, 0, 0), devNull.getFD(), -1, new byte[0], new byte[0]);
  }

  private static ReceivedHandoff commit(long moved) {
    InetSocketAddress none = new InetSocketAddress(0);
    return new ReceivedHandoff(new HandoffHeader(moved, 0, none, none, HandoffHeader.Kind.TAKEOVER,
        0), null, -1, null);
  }

  private static ReceivedHandoff prepared(long id) throws IOException {
    java.io.FileInputStream devNull = new java.io.FileInputStream("/dev/null");
    return new ReceivedHandoff(FakeLink.header(id).as(HandoffHeader.Kind.PREPARED, 0, 0),
        devNull.getFD(), -1, null);
  }

  private static ReceivedHandoff switched(long id, String pending, String state) {
    byte[] p = pending.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    byte[] st = state.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    return new ReceivedHandoff(FakeLink.header(id).as(HandoffHeader.Kind.SWITCHED, p.length,
        st.length), null, -1, p, st);
  }

  private static ReceivedHandoff dropped(long id) {
    return new ReceivedHandoff(FakeLink.header(id).as(HandoffHeader.Kind.DROPPED, 0, 0), null, -1,
        null);
  }

  private CompletableFuture<Integer> receiveInTwoPhases(FakeLink link, Sink sink,
      java.io.Closeable boundPath) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return Successor.receiveMoved(new Successor.Predecessor(link, true, true), sink, 100,
            boundPath, null);
      } catch (IOException e) {
        throw new java.util.concurrent.CompletionException(e);
      }
    });
  }

  private static void awaitAnswers(FakeLink link, int n) throws InterruptedException {
    Await.until(Duration.ofSeconds(10), () -> link.answersOut.size() >= n,
        () -> "answers " + link.answersOut);
  }

  @Test
  void twoPhasesHoldEveryCopyUnservedAnswerTheSwitchOnceThenServeAllWithTheirBytes()
      throws Exception {
    FakeLink link = new FakeLink();
    Sink sink = new Sink();
    ReceivedHandoff c1 = prepared(1);
    ReceivedHandoff c2 = prepared(2);
    ReceivedHandoff c3 = prepared(3);
    link.willReceive(c1).willReceive(c2).willReceive(c3);
    CompletableFuture<Integer> result = receiveInTwoPhases(link, sink, path);
    awaitAnswers(link, 4);
    assertEquals(List.of(new Acknowledgement(0, Status.ADOPTED),
        new Acknowledgement(1, Status.ADOPTED), new Acknowledgement(2, Status.ADOPTED),
        new Acknowledgement(3, Status.ADOPTED)), link.answersOut, "bound, then each copy held");
    link.willReceive(switched(1, "ab", "s1")).willReceive(dropped(2))
        .willReceive(switched(3, "", "s3"));
    awaitAnswers(link, 5);
    assertEquals(new Acknowledgement(0, Status.ADOPTED), link.answersOut.get(4),
        "one answer to the whole switch: ready to serve all");
    assertEquals(5, link.answersOut.size(), "no answer per switched connection");
    assertThrows(IllegalStateException.class, c2::release, "the dropped copy was closed");
    assertEquals(List.of(), sink.served, "nothing served before the commit");
    link.willReceive(commit(2));
    assertEquals(2, result.get(10, TimeUnit.SECONDS));
    assertEquals(List.of(3L, 1L), sink.served,
        "the last switched first: the old app switches the busiest connections last");
    assertEquals("", sink.pending.get(0));
    assertEquals("s3", sink.state.get(0));
    assertEquals("ab", sink.pending.get(1));
    assertEquals("s1", sink.state.get(1));
    assertEquals(List.of(HandoffHeader.Kind.MIGRATED, HandoffHeader.Kind.MIGRATED), sink.kinds,
        "served as moved connections, so their unsent bytes are written first");
  }

  /** The copies of one COPIES message are answered together, in one write, once all are held. */
  @Test
  void copiesThatCameInOneMessageAreAnsweredInOneWrite() throws Exception {
    FakeLink link = new FakeLink();
    Sink sink = new Sink();
    link.willReceiveCopies(prepared(1), prepared(2), prepared(3)).willReceive(prepared(4));
    CompletableFuture<Integer> result = receiveInTwoPhases(link, sink, path);
    awaitAnswers(link, 5);
    assertEquals(List.of(new Acknowledgement(0, Status.ADOPTED),
        new Acknowledgement(1, Status.ADOPTED), new Acknowledgement(2, Status.ADOPTED),
        new Acknowledgement(3, Status.ADOPTED), new Acknowledgement(4, Status.ADOPTED)),
        link.answersOut, "bound, then each copy held");
    assertEquals(List.of("ack c0 ADOPTED", "acks 3", "acks 1"), link.events.stream()
        .filter(e -> e.startsWith("ack")).toList(),
        "one write for the three copies of one message, one for the copy sent alone");
    link.willReceive(switched(1, "", "")).willReceive(switched(2, "", ""))
        .willReceive(switched(3, "", "")).willReceive(switched(4, "", "")).willReceive(commit(4));
    assertEquals(4, result.get(10, TimeUnit.SECONDS));
    assertEquals(List.of(4L, 3L, 2L, 1L), sink.served);
  }

  @Test
  void aLinkEndingBetweenThePhasesClosesEveryCopyOnceAndServesNone() throws Exception {
    FakeLink link = new FakeLink();
    Sink sink = new Sink();
    ReceivedHandoff c1 = prepared(1);
    ReceivedHandoff c2 = prepared(2);
    java.io.FileDescriptor fd1 = c1.descriptor();
    java.io.FileDescriptor fd2 = c2.descriptor();
    link.willReceive(c1).willReceive(c2).willReceive(switched(1, "x", "")).willReceive(FakeLink.END);
    java.io.Closeable boundPath = () -> link.events.add("path freed");
    IOException e = assertThrows(IOException.class, () -> Successor.receiveMoved(
        new Successor.Predecessor(link, true, true), sink, 100, boundPath, null));
    assertTrue(e.getMessage().contains("before it committed"), e.getMessage());
    assertEquals(List.of(), sink.served);
    assertFalse(fd1.valid(), "the switched copy was closed");
    assertFalse(fd2.valid(), "the copy never switched was closed");
    assertThrows(IllegalStateException.class, c1::release, "its descriptor went to the switch");
    assertThrows(IllegalStateException.class, c2::release);
    assertTrue(link.events.indexOf("path freed") < link.events.indexOf("closed"), link.events
        .toString());
  }

  @Test
  void aSwitchOfAConnectionNeverPreparedEndsTheTakeOver() throws Exception {
    FakeLink link = new FakeLink();
    Sink sink = new Sink();
    ReceivedHandoff c1 = prepared(1);
    link.willReceive(c1).willReceive(switched(7, "", ""));
    IOException e = assertThrows(IOException.class, () -> Successor.receiveMoved(
        new Successor.Predecessor(link, true, true), sink, 100, path, null));
    assertTrue(e.getMessage().contains("m7"), e.getMessage());
    assertThrows(IllegalStateException.class, c1::release, "the copy held was closed");
    assertEquals(List.of(), sink.served);
  }

  @Test
  void copiesBeyondTheCapAreAnsweredRetrySoThatTheOldAppRollsBack() throws Exception {
    FakeLink link = new FakeLink();
    Sink sink = new Sink();
    link.willReceive(prepared(1)).willReceive(prepared(2)).willReceive(FakeLink.END);
    assertThrows(IOException.class, () -> Successor.receiveMoved(
        new Successor.Predecessor(link, true, true), sink, 1, path, null));
    assertEquals(List.of(new Acknowledgement(0, Status.ADOPTED),
        new Acknowledgement(1, Status.ADOPTED), new Acknowledgement(2, Status.RETRY)),
        link.answersOut);
  }

  /** A sink that records what it is given to serve (the descriptors stay the handoffs'). */
  private static final class Sink implements ConnectionSink {
    final List<Long> served = new CopyOnWriteArrayList<>();
    final List<String> pending = new CopyOnWriteArrayList<>();
    final List<String> state = new CopyOnWriteArrayList<>();
    final List<HandoffHeader.Kind> kinds = new CopyOnWriteArrayList<>();

    @Override
    public int liveConnections() {
      return served.size();
    }

    @Override
    public boolean adopt(ReceivedHandoff handoff, Consumer<Throwable> whenRegistered) {
      served.add(handoff.header().connectionId());
      pending.add(new String(handoff.pending(), java.nio.charset.StandardCharsets.US_ASCII));
      state.add(new String(handoff.state(), java.nio.charset.StandardCharsets.US_ASCII));
      kinds.add(handoff.header().kind());
      whenRegistered.accept(null);
      return true;
    }
  }

  @Test
  void movedConnectionsAreHeldUnservedUntilTheCommitThenAllServed() throws Exception {
    FakeLink link = new FakeLink();
    Sink sink = new Sink();
    ReceivedHandoff m1 = moved(1);
    ReceivedHandoff m2 = moved(2);
    link.willReceive(m1).willReceive(m2);
    CompletableFuture<Integer> result = CompletableFuture.supplyAsync(() -> {
      try {
        return Successor.receiveMoved(new Successor.Predecessor(link, true), sink, 100, path, null);
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    });
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (link.answersOut.size() < 3 && System.nanoTime() < deadline) {
      Thread.onSpinWait();
    }
    assertEquals(List.of(new Acknowledgement(0, Status.ADOPTED),
        new Acknowledgement(1, Status.ADOPTED), new Acknowledgement(2, Status.ADOPTED)),
        link.answersOut, "bound, then each held");
    assertEquals(List.of(), sink.served, "nothing served before the commit");
    link.willReceive(commit(2));
    assertEquals(2, result.get(10, TimeUnit.SECONDS));
    assertEquals(List.of(2L, 1L), sink.served,
        "the last moved first: the old app moves the busiest connections last");
    assertTrue(link.closed);
  }

  @Test
  void aLinkEndingBeforeTheCommitClosesEveryHeldCopyAndServesNone() throws Exception {
    FakeLink link = new FakeLink();
    Sink sink = new Sink();
    ReceivedHandoff m1 = moved(1);
    ReceivedHandoff m2 = moved(2);
    link.willReceive(m1).willReceive(m2).willReceive(FakeLink.END);
    java.io.Closeable boundPath = () -> link.events.add("path freed");
    IOException e = assertThrows(IOException.class, () -> Successor.receiveMoved(
        new Successor.Predecessor(link, true), sink, 100, boundPath, null));
    assertTrue(e.getMessage().contains("before it committed"), e.getMessage());
    assertEquals(List.of(), sink.served);
    assertThrows(IllegalStateException.class, m1::release, "m1's descriptor was closed");
    assertThrows(IllegalStateException.class, m2::release, "m2's descriptor was closed");
    assertTrue(link.events.contains("path freed"));
    assertTrue(link.events.indexOf("path freed") < link.events.indexOf("closed"),
        "the path is freed before the link closes, which tells the previous app to bind it again: "
        + link.events);
  }

  @Test
  void aConnectionBeyondTheCapIsAnsweredRetrySoThatTheOldAppRollsBack() throws Exception {
    FakeLink link = new FakeLink();
    Sink sink = new Sink();
    link.willReceive(moved(1)).willReceive(moved(2)).willReceive(FakeLink.END);
    assertThrows(IOException.class, () -> Successor.receiveMoved(new Successor.Predecessor(link, true), sink, 1, path, null));
    assertEquals(List.of(new Acknowledgement(0, Status.ADOPTED),
        new Acknowledgement(1, Status.ADOPTED), new Acknowledgement(2, Status.RETRY)),
        link.answersOut);
    assertEquals(List.of(), sink.served);
  }

  /** An old app from before COMMIT: each connection is served as it arrives, as it expects. */
  @Test
  void fromAnAppThatDoesNotCommitEachConnectionIsServedAsItArrives() throws Exception {
    FakeLink link = new FakeLink();
    Sink sink = new Sink();
    link.willReceive(moved(1)).willReceive(moved(2)).willReceive(FakeLink.END);
    assertEquals(2, Successor.receiveMoved(new Successor.Predecessor(link, false), sink, 100, path, null));
    assertEquals(List.of(1L, 2L), sink.served);
  }

  /** The old app's "the path is yours" says whether a COMMIT follows; an older one's does not. */
  @Test
  void theAnswerToTheRequestSaysWhetherTheOldAppCommits() throws Exception {
    assertTrue(agreed(Successor.COMMIT_FOLLOWS).commits());
    assertFalse(agreed(Successor.COMMIT_FOLLOWS).twoPhase());
    assertFalse(agreed(0).commits());
    assertTrue(agreed(Successor.TWO_PHASE).commits());
    assertTrue(agreed(Successor.TWO_PHASE).twoPhase());
  }

  private Successor.Predecessor agreed(long id) throws Exception {
    Path socket = dir.resolve("app-" + id + ".sock");
    try (AFUNIXServerSocketChannel listener = AFUNIXServerSocketChannel.open()) {
      listener.bind(AFUNIXSocketAddress.of(socket));
      CompletableFuture<Void> answered = CompletableFuture.runAsync(() -> {
        try (HandoffChannel oldApp = HandoffChannel.accepted(listener.accept(), "successor");
            ReceivedHandoff request = oldApp.receive()) {
          oldApp.sendAck(new Acknowledgement(id, Status.ADOPTED));
          oldApp.awaitEnd();
        } catch (IOException e) {
          throw new IllegalStateException(e);
        }
      });
      Successor.Predecessor p = Successor.requestTakeOver(socket, Duration.ofSeconds(10));
      p.close();
      answered.get(10, TimeUnit.SECONDS);
      return p;
    }
  }
}
