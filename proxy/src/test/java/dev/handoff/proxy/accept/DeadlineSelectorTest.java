package dev.handoff.proxy.accept;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class DeadlineSelectorTest {
  private static final long JOIN_MS = 10_000;

  private final List<Pipe> pipes = new ArrayList<>();

  /** A connection under watch: a pipe's read end, and what the loop did with it. */
  private static final class Item extends DeadlineSelector.Watched {
    final String name;

    Item(String name, long deadline) {
      super(deadline);
      this.name = name;
    }

    @Override
    public String toString() {
      return name;
    }
  }

  /** Records every call; decides as told; over once {@code until} items are finished. */
  private static class Recording implements DeadlineSelector.Stage<Item> {
    final List<String> calls = new CopyOnWriteArrayList<>();
    final List<Item> finished = new CopyOnWriteArrayList<>();
    volatile int until = 1;
    volatile boolean stop;
    Consumer<Item> onLook = DeadlineSelector.Watched::decide;

    @Override
    public void admit(long now) {}

    @Override
    public void look(Item item) {
      calls.add("look " + item);
      onLook.accept(item);
    }

    @Override
    public void expired(Item item) {
      calls.add("expired " + item);
      item.decide();
    }

    @Override
    public void finish(List<Item> decided) {
      finished.addAll(decided);
    }

    @Override
    public boolean over() {
      return stop || finished.size() >= until;
    }
  }

  @AfterEach
  void closePipes() throws IOException {
    for (Pipe pipe : pipes) {
      pipe.sink().close();
      pipe.source().close();
    }
  }

  private Pipe pipe() throws IOException {
    Pipe pipe = Pipe.open();
    pipe.source().configureBlocking(false);
    pipes.add(pipe);
    return pipe;
  }

  private static void write(Pipe pipe) throws IOException {
    pipe.sink().write(ByteBuffer.wrap(new byte[] {1}));
  }

  private static long inMillis(long millis) {
    return System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
  }

  /** Runs the loop on a thread until it returns; what it threw, if anything. */
  private static Throwable runToEnd(DeadlineSelector<Item> loop, DeadlineSelector.Stage<Item> stage)
      throws InterruptedException {
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Thread t = new Thread(() -> {
      try {
        loop.run(stage);
      } catch (Throwable e) {
        thrown.set(e);
      }
    }, "deadline-selector-test");
    t.start();
    t.join(JOIN_MS);
    assertFalse(t.isAlive(), "the loop ended");
    return thrown.get();
  }

  @Test
  void aReadableConnectionIsLookedAtAndHandedOnOnceDecided() throws Exception {
    DeadlineSelector<Item> loop = new DeadlineSelector<>(20, TimeUnit.MILLISECONDS);
    Pipe pipe = pipe();
    Item item = new Item("a", inMillis(60_000));
    loop.watch(pipe.source(), item);
    write(pipe);
    Recording stage = new Recording();
    assertEquals(null, runToEnd(loop, stage));
    assertEquals(List.of("look a"), stage.calls);
    assertEquals(List.of(item), stage.finished);
    assertFalse(item.key().isValid(), "deregistered before it was handed on");
    loop.close();
  }

  @Test
  void aConnectionPastItsDeadlineIsExpiredExactlyOnce() throws Exception {
    DeadlineSelector<Item> loop = new DeadlineSelector<>(20, TimeUnit.MILLISECONDS);
    Item silent = new Item("silent", inMillis(30));
    loop.watch(pipe().source(), silent);
    Recording stage = new Recording();
    assertEquals(null, runToEnd(loop, stage));
    assertEquals(List.of("expired silent"), stage.calls);
    assertEquals(List.of(silent), stage.finished);
    loop.close();
  }

  @Test
  void deadlinesExpireInTheOrderWatched() throws Exception {
    DeadlineSelector<Item> loop = new DeadlineSelector<>(20, TimeUnit.MILLISECONDS);
    Item first = new Item("first", inMillis(10));
    Item second = new Item("second", inMillis(20));
    loop.watch(pipe().source(), first);
    loop.watch(pipe().source(), second);
    Recording stage = new Recording();
    stage.until = 2;
    assertEquals(null, runToEnd(loop, stage));
    assertEquals(List.of("expired first", "expired second"), stage.calls);
    loop.close();
  }

  @Test
  void bytesThatDoNotDecideAreLookedAtAgainOnTheTimerNotOnReadiness() throws Exception {
    DeadlineSelector<Item> loop = new DeadlineSelector<>(20, TimeUnit.MILLISECONDS);
    Pipe pipe = pipe();
    Item partial = new Item("partial", inMillis(60_000));
    loop.watch(pipe.source(), partial);
    write(pipe); // stays readable: never read
    Recording stage = new Recording();
    long[] firstLook = new long[1];
    stage.onLook = item -> {
      if (firstLook[0] == 0) {
        firstLook[0] = System.nanoTime();
        item.lookAgainAt(inMillis(30));
      } else {
        item.decide();
      }
    };
    assertEquals(null, runToEnd(loop, stage));
    assertEquals(List.of("look partial", "look partial"), stage.calls);
    assertTrue(System.nanoTime() - firstLook[0] >= TimeUnit.MILLISECONDS.toNanos(30),
        "looked at again once its time came, not while the bytes stayed readable");
    loop.close();
  }

  @Test
  void expireAllExpiresEveryConnectionWhateverItsDeadline() throws Exception {
    DeadlineSelector<Item> loop = new DeadlineSelector<>(20, TimeUnit.MILLISECONDS);
    loop.watch(pipe().source(), new Item("a", inMillis(60_000)));
    loop.watch(pipe().source(), new Item("b", inMillis(60_000)));
    Recording stage = new Recording() {
      @Override
      public boolean expireAll(long now) {
        return true;
      }
    };
    stage.until = 2;
    assertEquals(null, runToEnd(loop, stage));
    assertEquals(List.of("expired a", "expired b"), stage.calls);
    loop.close();
  }

  @Test
  void theLoopEndsOnceTheStageIsOverWhenWokenFromItsWait() throws Exception {
    DeadlineSelector<Item> loop = new DeadlineSelector<>(60, TimeUnit.SECONDS);
    Recording stage = new Recording();
    java.util.concurrent.CountDownLatch waiting = new java.util.concurrent.CountDownLatch(1);
    DeadlineSelector.Stage<Item> asked = new Recording() {
      @Override
      public boolean over() {
        waiting.countDown();
        return stage.stop;
      }
    };
    Thread stopper = new Thread(() -> {
      try {
        waiting.await();
      } catch (InterruptedException e) {
        return;
      }
      stage.stop = true;
      loop.wakeup(); // the loop waits up to 60 s otherwise
    });
    stopper.start();
    long start = System.nanoTime();
    assertEquals(null, runToEnd(loop, asked));
    assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(30), "woken, not timed out");
    stopper.join(JOIN_MS);
    loop.close();
  }

  @Test
  void afterAFailureUnfinishedGivesTheWatchedAndTheDecidedNotHandedOn() throws Exception {
    DeadlineSelector<Item> loop = new DeadlineSelector<>(20, TimeUnit.MILLISECONDS);
    Pipe readable = pipe();
    Item decided = new Item("decided", inMillis(60_000));
    Item watched = new Item("watched", inMillis(60_000));
    loop.watch(readable.source(), decided);
    loop.watch(pipe().source(), watched);
    write(readable);
    Recording stage = new Recording() {
      @Override
      public void finish(List<Item> items) {
        throw new IllegalStateException("cannot hand on");
      }
    };
    assertInstanceOf(IllegalStateException.class, runToEnd(loop, stage));
    List<Item> left = new ArrayList<>();
    loop.unfinished(left::add);
    assertEquals(List.of(watched, decided), left);
    loop.close();
  }
}
