package dev.handoff.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Acknowledgement.Status;
import dev.handoff.common.HandoffException;
import dev.handoff.common.HandoffException.Reason;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.HandoffLink;
import dev.handoff.common.ReceivedHandoff;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.FileDescriptor;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The app's link reader through each of its transitions, with a fake link and a fake engine. */
@Timeout(30)
class LinkReaderTest {
  private final FakeLink link = new FakeLink();
  private final FakeSink sink = new FakeSink();
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final ServerStats stats = published(new ServerStats(), registry);

  private static ServerStats published(ServerStats stats, SimpleMeterRegistry registry) {
    stats.publishTo(MicrometerMeters.register(registry, java.nio.file.Path.of("/run/test.sock"),
        stats, () -> 0, 1, () -> 0));
    return stats;
  }
  private final AtomicReference<HandoffLink> takenOver = new AtomicReference<>();
  private boolean readerClosed;

  /** Runs the reader until the link ends; the sink registers at once unless told otherwise. */
  private void runReader(int maxConnections) {
    new LinkReader(link, sink, stats, maxConnections, (l, request) -> takenOver.set(l), () -> readerClosed = true)
        .run();
  }

  @Test
  void answersAdoptedOnlyOnceTheConnectionIsRegistered() throws Exception {
    sink.registerLater = true;
    link.willReceive(FakeLink.handoff(1)).willReceive(FakeLink.END);
    Thread reader = new Thread(() -> runReader(100));
    reader.start();
    sink.awaitAdoptions(1);
    // The reader has read the link's end and waits for the answer due before closing it.
    Await.until(java.time.Duration.ofSeconds(10),
        () -> reader.getState() == Thread.State.TIMED_WAITING
            || reader.getState() == Thread.State.WAITING,
        () -> "the reader waits for the answer due: " + reader.getState());
    assertEquals(List.of(), link.answersOut, "nothing answered before registration");
    sink.callbacks.get(0).accept(null);
    reader.join();
    assertEquals(List.of("ack c1 ADOPTED", "closed"), link.events,
        "answered, and only then the link closed: closing waits for answers due");
    assertTrue(readerClosed);
  }

  @Test
  void aRegistrationThatFailsIsAnsweredRetry() throws Exception {
    sink.failRegistration = true;
    link.willReceive(FakeLink.handoff(2)).willReceive(FakeLink.END);
    runReader(100);
    assertEquals(List.of(new Acknowledgement(2, Status.RETRY)), link.answersOut);
  }

  @Test
  void atTheConnectionCapItAnswersRetryAndClosesTheDescriptor() throws Exception {
    sink.live = 5;
    ReceivedHandoff h = FakeLink.handoff(3);
    FileDescriptor fd = h.descriptor();
    link.willReceive(h).willReceive(FakeLink.END);
    runReader(5);
    assertEquals(List.of(new Acknowledgement(3, Status.RETRY)), link.answersOut);
    assertEquals(0, sink.adoptions.size(), "not given to the engine");
    assertFalse(fd.valid(), "its descriptor closed");
  }

  @Test
  void aRefusalThatKeepsFramingIsAnsweredAndTheLinkGoesOn() throws Exception {
    link.willReceive(new HandoffException(Reason.UNKNOWN_KIND, 4, "unknown kind"))
        .willReceive(FakeLink.handoff(5)).willReceive(FakeLink.END);
    runReader(100);
    assertEquals(List.of(new Acknowledgement(4, Status.REJECTED),
        new Acknowledgement(5, Status.ADOPTED)), link.answersOut);
  }

  /** A take-over's copy of a connection belongs on a successor's link only: never served. */
  @Test
  void aPreparedCopyOnAProxyLinkIsRefusedItsDescriptorClosedAndTheLinkGoesOn() throws Exception {
    ReceivedHandoff copy = new ReceivedHandoff(
        FakeLink.header(8).as(HandoffHeader.Kind.PREPARED, 0, 0),
        FakeLink.handoff(8).descriptor(), -1, null);
    FileDescriptor fd = copy.descriptor();
    link.willReceive(copy).willReceive(FakeLink.handoff(9)).willReceive(FakeLink.END);
    runReader(100);
    assertEquals(List.of(new Acknowledgement(8, Status.REJECTED),
        new Acknowledgement(9, Status.ADOPTED)), link.answersOut);
    assertEquals(1, sink.adoptions.size(), "only the connection given to the engine");
    assertFalse(fd.valid(), "the copy's descriptor closed");
  }

  @Test
  void aRefusalThatLosesFramingClosesTheLink() throws Exception {
    link.willReceive(new HandoffException(Reason.BAD_MAGIC, "bad magic"))
        .willReceive(FakeLink.handoff(6));
    runReader(100);
    assertEquals(List.of("closed"), link.events, "nothing answered (no id), the link closed");
    assertEquals(0, sink.adoptions.size(), "nothing read after it");
  }

  @Test
  void aClientGoneBeforeAdoptionIsAnsweredRejectedAndCounted() throws Exception {
    sink.refuse = new HandoffException(Reason.CLIENT_GONE, 7, "reset by its client");
    ReceivedHandoff h = FakeLink.handoff(7);
    FileDescriptor fd = h.descriptor();
    link.willReceive(h).willReceive(FakeLink.END);
    runReader(100);
    assertEquals(List.of(new Acknowledgement(7, Status.REJECTED)), link.answersOut);
    assertFalse(fd.valid(), "its descriptor closed");
    assertEquals(1.0, registry.get("handoff.app.handoffs.refused").tag("reason", "client-gone")
        .counter().count());
  }

  @Test
  void aConnectionDeliveredTwiceIsAnsweredAdoptedAndTheSecondCopyClosed() throws Exception {
    sink.duplicates = true;
    ReceivedHandoff h = FakeLink.handoff(8);
    FileDescriptor fd = h.descriptor();
    link.willReceive(h).willReceive(FakeLink.END);
    runReader(100);
    assertEquals(List.of(new Acknowledgement(8, Status.ADOPTED)), link.answersOut,
        "this app does own the connection");
    assertFalse(fd.valid(), "the duplicate descriptor closed");
  }

  /** Defect 4: a proxy that gave up on a stopped app; every handoff it sent is still served. */
  @Test
  void answersThatCannotBeWrittenStopNothing() throws Exception {
    link.answersFail = true;
    for (int i = 10; i < 20; i++) {
      link.willReceive(FakeLink.handoff(i));
    }
    link.willReceive(FakeLink.END);
    runReader(100);
    assertEquals(10, sink.adoptions.size(), "every handoff read and served");
    assertEquals(10.0, registry.get("handoff.app.answers.lost").functionCounter().count());
  }

  @Test
  void aTakeOverRequestHandsTheLinkOverWithoutClosingIt() throws Exception {
    link.willReceive(FakeLink.takeOverRequest()).willReceive(FakeLink.handoff(30));
    runReader(100);
    assertSame(link, takenOver.get());
    assertFalse(link.closed, "the hand-over owns the link now");
    assertEquals(0, sink.adoptions.size(), "nothing read after the request");
    assertTrue(readerClosed);
  }

  @Test
  void anEngineThatCannotTakeTheDescriptorGetsRetryOrRejected() throws Exception {
    sink.refuseWith = new IOException("Too many open files");
    link.willReceive(FakeLink.handoff(40)).willReceive(FakeLink.END);
    runReader(100);
    sink.refuseWith = new IllegalStateException("netty says no");
    assertEquals(List.of(new Acknowledgement(40, Status.RETRY)), link.answersOut);
    FakeLink other = new FakeLink();
    other.willReceive(FakeLink.handoff(41)).willReceive(FakeLink.END);
    new LinkReader(other, sink, stats, 100, (l, request) -> takenOver.set(l), () -> { }).run();
    assertEquals(List.of(new Acknowledgement(41, Status.REJECTED)), other.answersOut);
  }

  /** An engine that records what it is given and registers as told. */
  private static final class FakeSink implements ConnectionSink {
    final List<ReceivedHandoff> adoptions = new CopyOnWriteArrayList<>();
    final List<Consumer<Throwable>> callbacks = new CopyOnWriteArrayList<>();
    final Map<Long, Boolean> served = new ConcurrentHashMap<>();
    volatile int live;
    volatile boolean registerLater;
    volatile boolean failRegistration;
    volatile boolean duplicates;
    volatile HandoffException refuse;
    volatile Exception refuseWith;

    @Override
    public int liveConnections() {
      return live;
    }

    @Override
    public boolean adopt(ReceivedHandoff handoff, Consumer<Throwable> whenRegistered)
        throws IOException {
      if (refuse != null) {
        throw refuse;
      }
      if (refuseWith instanceof IOException e) {
        throw e;
      }
      if (refuseWith instanceof RuntimeException e) {
        throw e;
      }
      if (duplicates) {
        return false;
      }
      handoff.release();
      adoptions.add(handoff);
      callbacks.add(whenRegistered);
      if (!registerLater) {
        whenRegistered.accept(failRegistration ? new IOException("event loop shut down") : null);
      }
      return true;
    }

    void awaitAdoptions(int n) throws InterruptedException {
      Await.until(java.time.Duration.ofSeconds(10), () -> adoptions.size() >= n,
          () -> adoptions.size() + " of " + n + " adoptions");
    }
  }
}
