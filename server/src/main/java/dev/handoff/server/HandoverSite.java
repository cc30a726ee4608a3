package dev.handoff.server;

import dev.handoff.server.ConnectionDetacher.Detached;
import dev.handoff.common.HandoffLink;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * What a {@link Handover} needs of the app it runs in: stop and resume taking handoffs, and take
 * connections off their event loops, serve them again or let them go. Small so that tests can
 * drive a hand-over through every outcome with a fake.
 */
interface HandoverSite {
  /**
   * Stops accepting links, frees the socket path and answers CLOSING on every proxy link.
   *
   * @param except the successor's link, left alone
   */
  void stopTakingHandoffs(HandoffLink except) throws InterruptedException;

  /**
   * Binds the socket path again and takes handoffs as before.
   *
   * @return false if that is not possible (another process accepts on the path now)
   */
  boolean resumeTakingHandoffs();

  /**
   * The connections that may move, none touched yet. Calling one pauses that connection and takes
   * it off its event loop; its future gives {@code null} if it stays (closed, or its state cannot
   * move).
   */
  List<Supplier<CompletableFuture<Detached>>> movable();

  /**
   * For a two-phase move: a copy of the descriptor of each connection that may move, taken
   * without pausing it (each is served here as before), or {@code null} if this app cannot copy
   * them: its connections then move one at a time ({@link #movable}). The caller owns the copies
   * and closes each.
   */
  List<DescriptorCopy> copies() throws InterruptedException;

  /**
   * The switch of a two-phase move: pauses and takes off their event loops the connections of
   * {@code copies}, all at once (one task per event loop).
   *
   * @return one future per copy, in order; it gives {@code null} if that connection stays (it
   *     closed meanwhile, or its state cannot move now)
   */
  List<CompletableFuture<Detached>> pause(List<DescriptorCopy> copies);

  /** Serves a detached connection here again (the take-over was rolled back). */
  void resume(Detached connection);

  /**
   * The take-over is committed: closes this app's copy (close(2), the socket stays connected).
   */
  void release(Detached connection);
}
