package dev.handoff.proxy.link;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.HandoffHeader;
import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.channels.AsynchronousCloseException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * A link played by the test: records what was written whole, fails sends on demand, and gives the
 * reader what the test queued. Single-threaded: the test calls the link's reader entry points.
 */
final class FakeTransport implements Transport {
  /** Connection ids written whole on this link, in order. */
  final List<Long> written = new ArrayList<>();
  /** What {@link #receiveAck} returns next: an Acknowledgement, an IOException, or EOF when empty. */
  final Deque<Object> inbox = new ArrayDeque<>();
  /** Thrown by the next send, before anything is written. */
  IOException failNextSend;
  /** Runs inside the next send after the message is written (e.g. the proxy closes the link). */
  Runnable duringNextSend;
  boolean outputShut;
  int closes;
  boolean closed;

  @Override
  public void send(HandoffHeader header, FileDescriptor fd) throws IOException {
    if (closed) {
      throw new IOException("link closed");
    }
    if (failNextSend != null) {
      IOException e = failNextSend;
      failNextSend = null;
      throw e;
    }
    written.add(header.connectionId());
    if (duringNextSend != null) {
      Runnable r = duringNextSend;
      duringNextSend = null;
      r.run();
      if (closed) {
        throw new AsynchronousCloseException(); // written, but the caller cannot know that
      }
    }
  }

  @Override
  public Acknowledgement receiveAck() throws IOException {
    Object next = inbox.poll();
    if (next == null) {
      return null;
    }
    if (next instanceof IOException e) {
      throw e;
    }
    return (Acknowledgement) next;
  }

  @Override
  public void shutdownOutput() {
    outputShut = true;
  }

  @Override
  public void close() {
    closes++;
    closed = true;
  }

  @Override
  public boolean isOpen() {
    return !closed;
  }

  @Override
  public String peer() {
    return "pid 1, uid 0";
  }
}
