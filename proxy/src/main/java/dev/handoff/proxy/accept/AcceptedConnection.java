package dev.handoff.proxy.accept;

import dev.handoff.common.Closeables;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.internal.JdkNioInternals;
import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.util.function.Supplier;

/**
 * A client connection the proxy accepted and no app has acknowledged yet. It owns the proxy's copy
 * of the socket: {@link #close()} releases it, once, whether the handoff succeeded or not. At any
 * moment exactly one place holds it: the queue, the dispatcher, or one link's unacknowledged set.
 */
public final class AcceptedConnection {
  private final HandoffHeader header;
  private final Supplier<FileDescriptor> descriptor;
  private final Closeable channel;
  private final long acceptedNanos;
  /** When it was last sent to an app; written by the dispatcher, read by the link's timer. */
  private volatile long sentNanos;
  /** Counts the connections this proxy holds (see {@link ProxyStats#held}); may be null. */
  private final java.util.concurrent.atomic.AtomicInteger held;
  private final java.util.concurrent.atomic.AtomicBoolean closed =
      new java.util.concurrent.atomic.AtomicBoolean();

  AcceptedConnection(HandoffHeader header, SocketChannel channel, long acceptedNanos) {
    this(header, () -> JdkNioInternals.descriptorOf(channel), channel, acceptedNanos, null);
  }

  /** A connection counted in {@code held} until it is closed. */
  AcceptedConnection(HandoffHeader header, SocketChannel channel, long acceptedNanos,
      java.util.concurrent.atomic.AtomicInteger held) {
    this(header, () -> JdkNioInternals.descriptorOf(channel), channel, acceptedNanos, held);
  }

  /**
   * A connection whose descriptor and close are played by its creator (the link tests drive
   * links with them, no socket needed).
   */
  public AcceptedConnection(HandoffHeader header, Supplier<FileDescriptor> descriptor,
      Closeable channel,
      long acceptedNanos) {
    this(header, descriptor, channel, acceptedNanos, null);
  }

  private AcceptedConnection(HandoffHeader header, Supplier<FileDescriptor> descriptor,
      Closeable channel, long acceptedNanos, java.util.concurrent.atomic.AtomicInteger held) {
    this.held = held;
    if (held != null) {
      held.incrementAndGet();
    }
    this.header = header;
    this.descriptor = descriptor;
    this.channel = channel;
    this.acceptedNanos = acceptedNanos;
  }

  public HandoffHeader header() {
    return header;
  }

  /**
   * The client's address for sticky spreading: the original client's when a load balancer gave
   * it in a PROXY header, else the peer's; {@code null} if unknown.
   */
  public java.net.InetAddress clientAddress() {
    java.net.InetSocketAddress client = header.origin() != null ? header.origin().address()
        : header.client();
    return client == null ? null : client.getAddress();
  }

  /** The socket's descriptor, still owned by this object. */
  public FileDescriptor descriptor() {
    return descriptor.get();
  }

  /** The JDK channel, for the peek stage to watch; null for a test's stand-in. */
  public SocketChannel socketChannel() {
    return channel instanceof SocketChannel socket ? socket : null;
  }

  public long acceptedNanos() {
    return acceptedNanos;
  }

  public long id() {
    return header.connectionId();
  }

  public void markSent(long nanos) {
    sentNanos = nanos;
  }

  public long sentNanos() {
    return sentNanos;
  }

  /**
   * Whether the client has gone (reset or closed its end): asked only of a connection about to be
   * closed, since it reads (and so takes from the client's stream) up to 64 KiB.
   */
  public boolean clientGone() {
    if (!(channel instanceof SocketChannel socket)) {
      return false;
    }
    try {
      socket.configureBlocking(false);
      java.nio.ByteBuffer scratch = java.nio.ByteBuffer.allocate(4096);
      for (int i = 0; i < 16; i++) { // what it sent before it went may still be queued
        int n = socket.read(scratch.clear());
        if (n < 0) {
          return true; // its end of stream
        }
        if (n == 0) {
          return false; // nothing more for now: still there
        }
      }
      return false;
    } catch (IOException e) {
      return true; // reset
    }
  }

  /**
   * Closes the proxy's copy with close(2). The JDK does not shut the socket down on close, so a
   * copy already sent to an app stays connected.
   */
  public void close() {
    if (held != null && closed.compareAndSet(false, true)) {
      held.decrementAndGet();
    }
    Closeables.closeQuietly(channel);
  }

  @Override
  public String toString() {
    return header.toString();
  }
}
