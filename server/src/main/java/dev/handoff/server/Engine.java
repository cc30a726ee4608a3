package dev.handoff.server;

import dev.handoff.server.ConnectionDetacher.Detached;
import io.netty.channel.IoEventLoop;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Supplier;

/**
 * Where a {@link HandoffServer} serves the connections it adopts: Netty pipelines on epoll event
 * loops ({@link ConnectionEngine}) or JDK socket channels handed to the caller ({@link
 * SocketChannelEngine}).
 */
interface Engine extends ConnectionSink {
  /** Waits until no connection is left or the timeout passed; returns how many are left. */
  int awaitIdle(Duration timeout) throws InterruptedException;

  /**
   * For a take-over: the connections served now, each to be taken off its event loop when the
   * supplier is called (one at a time, just before its move).
   */
  List<Supplier<CompletableFuture<Detached>>> movable(boolean stateless);

  /**
   * For a two-phase take-over: a copy of the descriptor of each connection that may move, taken
   * on its event loop without pausing it; {@code null} if this engine cannot copy them (its
   * connections are its caller's, paused only by the caller, or the open-file limit leaves no
   * room for a second descriptor per connection), and they then move one at a time ({@link
   * #movable}). The future fails, with every copy made closed, if a copy cannot be made after
   * all. The caller owns the copies and closes each.
   */
  default CompletableFuture<List<DescriptorCopy>> copies(boolean stateless) {
    return null;
  }

  /** Serves a detached connection here again after its move failed. */
  void resume(Detached connection);

  /**
   * The successor adopted a detached connection: closes this app's copy (close(2); the socket
   * stays connected).
   */
  void release(Detached connection);

  /**
   * An event loop that can watch a proxy link's descriptor and read it ({@link LinkPoller}), or
   * {@code null} if links are to be read on threads of their own.
   */
  default IoEventLoop linkLoop() {
    return null;
  }

  /**
   * Where the connections a take-over moved here are given to the engine after the first slice
   * ({@link MovedIn#start}): the event loop that takes them, so that it reads and writes the
   * connections already given between two slices; {@code null} to give them all at once.
   */
  default ScheduledExecutorService later() {
    return null;
  }

  /** Closes every connection still held, and what the engine made. */
  void close();
}
