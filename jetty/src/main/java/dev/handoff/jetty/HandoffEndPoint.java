package dev.handoff.jetty;

import dev.handoff.server.HandedOffChannel;
import dev.handoff.server.Handoff;
import dev.handoff.server.PausedConnection;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.eclipse.jetty.io.ManagedSelector;
import org.eclipse.jetty.io.SocketChannelEndPoint;
import org.eclipse.jetty.server.internal.HttpConnection;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * One handed-off connection in Jetty: a {@link SocketChannelEndPoint} that knows its {@link
 * Handoff} facts and can pause between two HTTP/1.1 requests so that a successor process takes
 * the connection over.
 *
 * <p>Pausing, when a take-over asks for it ({@link #pause}): the next time Jetty's HTTP/1.1
 * connection asks for bytes with no request under way (its parser at the start of a message, its
 * buffer empty: every response written), {@link #fill} reads nothing and the end point is
 * {@code PAUSED}. From then on it never touches the socket again: it reads nothing, and closing it
 * neither shuts the socket down nor closes the channel. Its selection key is cancelled and, once the
 * selector has deregistered the channel (a JDK channel closed while registered shuts its output
 * down, which would cut the connection the successor serves), the end point is closed on Jetty's
 * side and the channel given to the take-over. What the client sent meanwhile is in the socket
 * and travels with it. A connection that does not reach such a point within the window stays
 * ({@code STAYING}): its next response says {@code Connection: close} ({@link HandoffCustomizer})
 * and it ends here.
 */
final class HandoffEndPoint extends SocketChannelEndPoint {
  private enum State { SERVING, PAUSING, PAUSED, STAYING }

  private final AtomicReference<State> state = new AtomicReference<>(State.SERVING);
  private final Handoff handoff;
  private final ManagedSelector selector;
  private final Scheduler scheduler;
  private final Executor executor;
  /** Serves the channel again if its move fails (a new end point, as for a new connection). */
  private final Consumer<HandedOffChannel> resume;
  private volatile SelectionKey key;
  private final CompletableFuture<PausedConnection> paused = new CompletableFuture<>();

  HandoffEndPoint(SocketChannel channel, ManagedSelector selector, SelectionKey key,
      Scheduler scheduler, Executor executor, Handoff handoff,
      Consumer<HandedOffChannel> resume) {
    super(channel, selector, key, scheduler);
    this.selector = selector;
    this.key = key;
    this.scheduler = scheduler;
    this.executor = executor;
    this.handoff = handoff;
    this.resume = resume;
  }

  /** What the proxy knew of this connection. */
  Handoff handoff() {
    return handoff;
  }

  /** A take-over could not move it: it ends here, after its current request. */
  boolean staying() {
    return state.get() == State.STAYING;
  }

  /**
   * Asks the connection to pause at its next request boundary, within {@code window}.
   *
   * @return completes with the paused connection, or {@code null} if it stays here
   */
  CompletableFuture<PausedConnection> pause(Duration window) {
    if (!state.compareAndSet(State.SERVING, State.PAUSING)) {
      return CompletableFuture.completedFuture(null);
    }
    scheduler.schedule(() -> {
      if (state.compareAndSet(State.PAUSING, State.STAYING)) {
        paused.complete(null);
      }
    }, window.toMillis(), TimeUnit.MILLISECONDS);
    // An idle connection waits for bytes that may never come: let it ask for them now, so that it
    // reaches fill() at its boundary. If it is busy, nothing is waiting and this does nothing.
    executor.execute(() -> getFillInterest().fillable());
    return paused;
  }

  @Override
  public int fill(ByteBuffer buffer) throws IOException {
    State s = state.get();
    if (s == State.PAUSED) {
      return 0;
    }
    if (s == State.PAUSING && atRequestBoundary(buffer)
        && state.compareAndSet(State.PAUSING, State.PAUSED)) {
      detach();
      return 0;
    }
    return super.fill(buffer);
  }

  /**
   * Whether the HTTP/1.1 connection holds nothing of the exchange: no byte of a request read, every
   * response written. Its parser is reset to the start only once a response has completed.
   */
  private boolean atRequestBoundary(ByteBuffer buffer) {
    return !buffer.hasRemaining() && getConnection() instanceof HttpConnection http
        && http.getParser().isStart() && !getWriteFlusher().isPending();
  }

  /** Takes the channel off the selector, then hands it to the take-over. On the selector thread. */
  private void detach() {
    selector.submit(s -> {
      key.cancel();
      // Deregistration happens in the selector's next select, which this second update follows.
      selector.submit(s2 -> afterDeregistration(0));
    });
  }

  private void afterDeregistration(int attempts) {
    if (getChannel().isRegistered() && attempts < 100) {
      selector.submit(s -> afterDeregistration(attempts + 1));
      return;
    }
    close(); // Jetty forgets the connection; the channel stays open (see doClose)
    // Ownership: the channel is the take-over's from here; it closes it once moved, or resumes it.
    paused.complete(new PausedConnection(new HandedOffChannel(getChannel(), handoff),
        () -> resume.accept(new HandedOffChannel(getChannel(), handoff))));
  }

  @Override
  public void replaceKey(SelectionKey newKey) {
    super.replaceKey(newKey);
    key = newKey;
  }

  @Override
  protected void needsFillInterest() {
    if (state.get() != State.PAUSED) {
      super.needsFillInterest();
    }
  }

  @Override
  protected void doShutdownOutput() {
    if (state.get() != State.PAUSED) {
      super.doShutdownOutput();
    }
  }

  @Override
  public void doClose() {
    if (state.get() != State.PAUSED) {
      super.doClose();
    }
  }
}
