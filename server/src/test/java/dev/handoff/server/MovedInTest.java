package dev.handoff.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.Descriptors;
import dev.handoff.common.ReceivedHandoff;
import java.io.FileDescriptor;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The connections a committed take-over moved here, given to the engine a slice at a time: which
 * are given when, and that none is left open when the server closes or its event loop stops
 * before the last slice.
 */
@Timeout(30)
class MovedInTest {
  /** Takes each connection (releases its descriptor, as the engine does) and keeps it. */
  private static final class Sink implements ConnectionSink {
    final List<Long> taken = new CopyOnWriteArrayList<>();
    final List<FileDescriptor> descriptors = new CopyOnWriteArrayList<>();

    @Override
    public int liveConnections() {
      return taken.size();
    }

    @Override
    public boolean adopt(ReceivedHandoff handoff, Consumer<Throwable> whenRegistered) {
      descriptors.add(handoff.descriptor());
      handoff.release();
      taken.add(handoff.header().connectionId());
      whenRegistered.accept(null);
      return true;
    }
  }

  private final List<FileDescriptor> all = new ArrayList<>();
  private final ScheduledExecutorService loop = Executors.newSingleThreadScheduledExecutor();

  @AfterEach
  void closeEverything() {
    loop.shutdownNow();
    all.forEach(fd -> {
      if (fd.valid()) {
        Descriptors.close(fd);
      }
    });
  }

  private List<ReceivedHandoff> moved(int n) throws IOException {
    List<ReceivedHandoff> held = new ArrayList<>();
    for (int id = 1; id <= n; id++) {
      ReceivedHandoff h = FakeLink.handoff(id);
      all.add(h.descriptor());
      held.add(h);
    }
    return held;
  }

  /** Runs a task on {@link #loop} and waits for it, so that a slice it scheduled comes after. */
  private void onLoop(Runnable task) throws Exception {
    loop.submit(task).get(10, TimeUnit.SECONDS);
  }

  @Test
  void theFirstSliceIsGivenAtOnceAndEachOtherOnALaterTurnOfTheLoop() throws Exception {
    Sink sink = new Sink();
    LongAdder served = new LongAdder();
    MovedIn movedIn = new MovedIn(moved(MovedIn.SLICE * 2 + 5), sink, served);
    // Started on the loop, as on the server channel's event loop: the first slice only, before
    // the task that started it ends.
    onLoop(() -> {
      movedIn.start(loop);
      assertEquals(MovedIn.SLICE, sink.taken.size(), "the first slice at once");
    });
    Await.until(java.time.Duration.ofSeconds(10), () -> sink.taken.size() == MovedIn.SLICE * 2 + 5,
        () -> "taken " + sink.taken.size());
    assertEquals(MovedIn.SLICE * 2 + 5, served.sum());
    List<Long> inOrder = new ArrayList<>();
    for (long id = 1; id <= MovedIn.SLICE * 2 + 5; id++) {
      inOrder.add(id);
    }
    assertEquals(inOrder, sink.taken, "in the order given");
  }

  @Test
  void withoutALoopEveryConnectionIsGivenAtOnce() throws Exception {
    Sink sink = new Sink();
    LongAdder served = new LongAdder();
    new MovedIn(moved(MovedIn.SLICE * 3), sink, served).start(null);
    assertEquals(MovedIn.SLICE * 3, sink.taken.size());
    assertEquals(MovedIn.SLICE * 3, served.sum());
  }

  @Test
  void closedBeforeTheLastSliceItClosesTheConnectionsNotGivenAndGivesNoMore() throws Exception {
    Sink sink = new Sink();
    List<ReceivedHandoff> held = moved(MovedIn.SLICE * 2);
    MovedIn movedIn = new MovedIn(held, sink, new LongAdder());
    onLoop(() -> {
      movedIn.start(loop);
      movedIn.close(); // the server closes before the loop's next turn
    });
    onLoop(() -> { }); // the slice scheduled, had it been left, has run by now
    assertEquals(MovedIn.SLICE, sink.taken.size(), "no slice after the close");
    for (int i = 0; i < held.size(); i++) {
      assertEquals(i < MovedIn.SLICE, all.get(i).valid(),
          "connection " + (i + 1) + ": given ones open (the engine's), the others closed");
    }
  }

  @Test
  void aStoppedEventLoopLeavesNoMovedConnectionOpen() throws Exception {
    Sink sink = new Sink();
    MovedIn movedIn = new MovedIn(moved(MovedIn.SLICE + 3), sink, new LongAdder());
    loop.shutdown();
    assertTrue(loop.awaitTermination(10, TimeUnit.SECONDS));
    movedIn.start(loop); // the loop refuses the next slice
    assertEquals(MovedIn.SLICE, sink.taken.size());
    for (int i = MovedIn.SLICE; i < all.size(); i++) {
      assertFalse(all.get(i).valid(), "connection " + (i + 1) + " closed");
    }
  }
}
