package dev.handoff.proxy.accept;

import dev.handoff.common.Closeables;
import java.io.IOException;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The selector loop of a stage that watches connections for their first bytes on one thread, each
 * until its deadline: the {@link ProxyHeaderReader}'s and the peek stage's. Owns the JDK
 * {@link Selector}, the connections watched (in the order they came, so that deadlines come in
 * order too) and the rounds: take new connections, look at the readable ones and at those whose
 * time to look again has come, expire those past their deadline, deregister the decided ones and
 * hand them on, then select until the nearest of those times. The {@link Stage} says what differs:
 * what a look and an expiry do, where new connections come from, what becomes of a decided one,
 * when to stop.
 *
 * <p>Threads: {@link #run} and everything it calls are the loop thread's; {@link #wakeup} and
 * {@link #close} (once {@link #run} has returned) may be called from any thread.
 *
 * @param <T> a connection being watched
 */
public final class DeadlineSelector<T extends DeadlineSelector.Watched> {
  /** {@link Stage#waitMillis}: go round again without waiting. */
  public static final long AT_ONCE = 0;

  /**
   * One connection being watched, until its {@link #deadline}. The stage ends its watch with
   * {@link #decide} (deregistered first, then {@link Stage#finish}) or {@link #drop} (the stage
   * disposes of it itself, at once).
   */
  public abstract static class Watched {
    final long deadline;
    SelectionKey key;
    DeadlineSelector<?> loop;
    long lookAgainAt;
    boolean lookingAgain;
    boolean done;

    /** @param deadline by when (System.nanoTime) the stage must decide */
    protected Watched(long deadline) {
      this.deadline = deadline;
    }

    public final long deadline() {
      return deadline;
    }

    /** Whether the watch is over: decided or dropped. */
    public final boolean done() {
      return done;
    }

    /** The key, null until watched. */
    protected final SelectionKey key() {
      return key;
    }

    /**
     * Ends the watch: off the selector, and handed to {@link Stage#finish} once deregistered
     * (or, when it was never watched, the caller's to finish).
     */
    public final void decide() {
      end();
      if (loop != null) {
        loop.decided(this);
      }
    }

    /** Ends the watch, the stage disposing of it at once (closing a channel deregisters it). */
    public final void drop() {
      end();
    }

    private void end() {
      done = true;
      if (key != null) {
        key.cancel();
      }
    }

    /**
     * Readiness is no longer news (bytes that do not decide yet stay readable): stop selecting
     * for it, and look again at {@code at} (System.nanoTime), with readiness selected again.
     */
    public final void lookAgainAt(long at) {
      lookAgainAt = at;
      if (key != null) {
        key.interestOps(0);
      }
      if (loop != null && !lookingAgain) {
        lookingAgain = true;
        loop.lookingAgain(this);
      }
    }

    /** When it is to be looked at again; 0 if not set. */
    protected final long lookAgainAt() {
      return lookAgainAt;
    }
  }

  /** What a stage does with the connections it watches. */
  public interface Stage<T> {
    /** Takes the connections that came since the last round, {@link #watch}ing them. */
    void admit(long now) throws IOException;

    /** Looks at a connection that is readable, or whose time to look again has come. */
    void look(T watched);

    /** A connection past its deadline: the stage must {@link Watched#decide} or drop it now. */
    void expired(T watched);

    /** Whether every watched connection is to be expired now, whatever its deadline. */
    default boolean expireAll(long now) {
      return false;
    }

    /** Hands on decided connections, deregistered from the selector, in the order decided. */
    void finish(List<T> decided) throws IOException;

    /** Whether the loop is to stop; asked before and after each wait. */
    boolean over();

    /**
     * How long to wait for readiness, given {@code millis} (at least 1) until the nearest time to
     * look again or deadline; {@link #AT_ONCE} to go round again without waiting.
     */
    default long waitMillis(long now, long millis) {
      return millis;
    }
  }

  private final Selector selector;
  private final long maxWaitNanos;
  private Stage<T> stage;
  /** In the order watched; done ones are skipped, and removed, lazily. */
  private final ArrayDeque<T> byDeadline = new ArrayDeque<>();
  private final List<T> lookingAgain = new ArrayList<>();
  private final List<T> decided = new ArrayList<>();

  /** @param maxWait the longest one wait for readiness lasts, with nothing due sooner */
  public DeadlineSelector(long maxWait, TimeUnit unit) throws IOException {
    this.maxWaitNanos = unit.toNanos(maxWait);
    this.selector = Selector.open();
  }

  /**
   * Registers {@code channel} (non-blocking) for {@code watched}, which it watches until
   * decided or dropped; for readiness unless it is to be looked at again at a set time.
   */
  public void watch(SelectableChannel channel, T watched) throws IOException {
    watched.key = channel.register(selector,
        watched.lookAgainAt != 0 ? 0 : SelectionKey.OP_READ, watched);
    watched.loop = this;
    byDeadline.addLast(watched);
    if (watched.lookAgainAt != 0) {
      watched.lookingAgain = true;
      lookingAgain.add(watched);
    }
  }

  @SuppressWarnings("unchecked") // only a T is ever watched here
  private void decided(Watched watched) {
    decided.add((T) watched);
  }

  @SuppressWarnings("unchecked")
  private void lookingAgain(Watched watched) {
    lookingAgain.add((T) watched);
  }

  /** Makes the loop thread's wait end now. */
  public void wakeup() {
    selector.wakeup();
  }

  /**
   * Runs rounds for {@code stage} until it is {@link Stage#over}; an exception ends the loop with
   * what it watches left as it is (see {@link #unfinished}).
   */
  public void run(Stage<T> stage) throws IOException {
    this.stage = stage;
    while (true) {
      stage.admit(System.nanoTime());
      Iterator<SelectionKey> ready = selector.selectedKeys().iterator();
      while (ready.hasNext()) {
        SelectionKey key = ready.next();
        ready.remove();
        @SuppressWarnings("unchecked")
        T watched = (T) key.attachment();
        if (key.isValid() && !watched.done) {
          stage.look(watched);
        }
      }
      long now = System.nanoTime();
      lookAgain(now);
      expire(now);
      finishDecided();
      if (stage.over()) {
        return;
      }
      long at = System.nanoTime();
      long wait = stage.waitMillis(at, waitMillis(at));
      if (wait <= AT_ONCE) {
        selector.selectNow();
      } else {
        selector.select(wait);
      }
      if (stage.over()) {
        return;
      }
    }
  }

  private void lookAgain(long now) {
    for (int i = 0; i < lookingAgain.size(); i++) {
      T w = lookingAgain.get(i);
      if (!w.done && w.lookAgainAt != 0 && now - w.lookAgainAt >= 0) {
        w.lookAgainAt = 0;
        w.key.interestOps(SelectionKey.OP_READ);
        stage.look(w);
      }
    }
    lookingAgain.removeIf(w -> {
      boolean off = w.done || w.lookAgainAt == 0;
      if (off) {
        w.lookingAgain = false;
      }
      return off;
    });
  }

  private void expire(long now) {
    boolean all = stage.expireAll(now);
    Iterator<T> it = byDeadline.iterator();
    while (it.hasNext()) {
      T w = it.next();
      if (w.done) {
        it.remove();
        continue;
      }
      if (now - w.deadline < 0 && !all) {
        break; // later ones are later still
      }
      it.remove();
      stage.expired(w);
    }
  }

  /** Deregisters the decided (one selectNow for all of them), then hands them on. */
  private void finishDecided() throws IOException {
    if (decided.isEmpty()) {
      return;
    }
    selector.selectNow(); // deregisters the cancelled keys; new readiness is read next round
    stage.finish(List.copyOf(decided));
    decided.clear(); // only now: should the stage fail, they are still unfinished
  }

  /** Until the nearest time to look again or deadline, at most the longest wait; at least 1. */
  private long waitMillis(long now) {
    long next = now + maxWaitNanos;
    for (T w : lookingAgain) {
      if (!w.done && w.lookAgainAt != 0 && w.lookAgainAt - next < 0) {
        next = w.lookAgainAt;
      }
    }
    for (T w : byDeadline) {
      if (!w.done) {
        if (w.deadline - next < 0) {
          next = w.deadline;
        }
        break;
      }
    }
    return Math.max(1, TimeUnit.NANOSECONDS.toMillis(next - now + 999_999));
  }

  /**
   * For a stage closing what it held once {@link #run} has ended: each connection still watched,
   * then each decided but not yet handed on.
   */
  public void unfinished(Consumer<T> each) {
    for (T w : byDeadline) {
      if (!w.done) {
        each.accept(w);
      }
    }
    for (T w : decided) {
      each.accept(w);
    }
    decided.clear();
  }

  /** Closes the selector; the channels still registered are deregistered (and closes done). */
  public void close() {
    Closeables.closeQuietly(selector);
  }
}
