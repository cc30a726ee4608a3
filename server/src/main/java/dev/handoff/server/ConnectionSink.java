package dev.handoff.server;

import dev.handoff.common.ReceivedHandoff;
import java.io.IOException;
import java.util.function.Consumer;

/**
 * Where a {@link LinkReader} puts the connections it receives: the engine that serves them.
 * Small so that tests can drive a link reader with a fake.
 */
interface ConnectionSink {
  /** Connections being served right now. */
  int liveConnections();

  /**
   * Takes over the handoff's descriptor and starts serving it.
   *
   * <p>Ownership: when this returns {@code true} the sink owns the descriptor (the handoff is
   * released) and closes it exactly once. When it throws or returns {@code false}, the descriptor
   * is still the handoff's to close.
   *
   * @param whenRegistered called once, on an I/O thread, when the connection is served
   *     ({@code null}) or could not be (the cause; the sink has then closed its descriptor)
   * @return {@code false} if this very connection is already served here: a sender delivered
   *     it twice
   * @throws dev.handoff.common.HandoffException if the descriptor is not a connected TCP socket,
   *     or its client has gone
   * @throws IOException if the descriptor cannot be taken now
   */
  boolean adopt(ReceivedHandoff handoff, Consumer<Throwable> whenRegistered) throws IOException;
}
