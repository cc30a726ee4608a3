package dev.handoff.server;

import dev.handoff.common.Descriptors;
import dev.handoff.common.HandoffHeader;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.unix.Socket;
import java.io.FileDescriptor;
import java.io.IOException;

/**
 * The running app's copy of a connection's descriptor in a two-phase take-over (docs/PROTOCOL.md,
 * "Taking over from a running app"): taken on the connection's event loop while it is served
 * there, and sent to the successor as a PREPARED message, while the connection is served on here
 * until the switch.
 *
 * <p>Ownership: this object owns the copy ({@code dup(2)} of the channel's descriptor), from
 * {@link #of} to {@link #close}, which closes it exactly once; the channel's own descriptor stays
 * the channel's. The copy is what is sent, never the channel's descriptor number, which the event
 * loop could close and the kernel give to another file while the send is under way.
 *
 * <p>A connection that its app closes while the copies are out would stay connected through the
 * successor's copy until the switch drops it: {@link #endConnection} (called when the channel
 * closes) shuts the socket down through this copy, so that its client sees the end at once.
 */
final class DescriptorCopy implements AutoCloseable {
  private final EpollSocketChannel channel;
  private final HandoffHeader header;
  /** The copy; {@code null} once closed. Guarded by this. */
  private FileDescriptor copy;

  /**
   * @param channel the connection, served here; {@code null} for a test's connection
   * @param copy a descriptor this object owns from now on
   */
  DescriptorCopy(EpollSocketChannel channel, HandoffHeader header, FileDescriptor copy) {
    this.channel = channel;
    this.header = header;
    this.copy = copy;
  }

  /**
   * Copies {@code channel}'s descriptor, on its event loop, and arranges for {@link
   * #endConnection} when the channel closes.
   *
   * @throws IOException if the process is out of descriptors
   */
  static DescriptorCopy of(EpollSocketChannel channel, HandoffHeader header) throws IOException {
    FileDescriptor dup = Descriptors.duplicate(
        dev.handoff.common.internal.JdkNioInternals.borrow(channel.fd().intValue()));
    DescriptorCopy copy = new DescriptorCopy(channel, header, dup);
    channel.closeFuture().addListener(f -> copy.endConnection());
    return copy;
  }

  EpollSocketChannel channel() {
    return channel;
  }

  HandoffHeader header() {
    return header;
  }

  /**
   * How long ago the client last sent data, in ms, as the kernel counts it (TCP_INFO's
   * {@code tcpi_last_data_recv}: one getsockopt(2), from any thread); {@link Long#MAX_VALUE} for a
   * test's connection or one the kernel cannot say of (closed meanwhile). The switch pauses the
   * quietest first, so that the clients in the middle of an exchange wait the least.
   */
  long quietMillis() {
    return channel == null ? Long.MAX_VALUE : ConnectionDetacher.quietMillis(channel);
  }

  /**
   * The copy, to send; only the thread that will {@link #close} it may use it.
   *
   * @throws IllegalStateException once closed
   */
  synchronized FileDescriptor descriptor() {
    if (copy == null) {
      throw new IllegalStateException("the copy of " + header + " is closed");
    }
    return copy;
  }

  /**
   * The connection was closed here while its copy was out: shuts the socket down (both ways)
   * through the copy, so that its client sees the end now, not when the successor drops its copy.
   * Nothing once the copy is closed (the switch paused the connection, or the take-over ended).
   */
  synchronized void endConnection() {
    if (copy == null || !copy.valid()) {
      return;
    }
    try {
      new Socket(Descriptors.number(copy)).shutdown();
    } catch (IOException e) {
      // already disconnected: nothing to end
    }
  }

  /** Closes the copy (close(2), the connection stays as it is); safe to call more than once. */
  @Override
  public synchronized void close() {
    if (copy != null) {
      Descriptors.close(copy);
      copy = null;
    }
  }

  /** Whether {@link #close} has been called: for the tests of who closes what. */
  synchronized boolean closed() {
    return copy == null;
  }
}
