package dev.handoff.common;

import java.io.FileDescriptor;

/**
 * A received connection: its header and a descriptor that this object owns.
 *
 * <p>Ownership: until {@link #release()} is called, {@link #close()} closes the descriptor. After
 * {@code release()} the caller owns it, {@code close()} does nothing, and {@link #descriptor()}
 * throws: a {@code FileDescriptor} kept past that point would name a number that its new owner may
 * close and the kernel may give to another file. The descriptor is detached from the link it
 * arrived on, so closing or losing that link never closes it.
 */
public final class ReceivedHandoff implements AutoCloseable {
  private final HandoffHeader header;
  private final FileDescriptor descriptor;
  private final int number;
  private final byte[] pending;
  private final byte[] state;
  private boolean released;

  /**
   * A handoff that owns {@code descriptor} from now on. Links create these; so may a
   * {@link HandoffLink} of another kind, or a test.
   *
   * @param descriptor {@code null} for a take-over request
   * @param number the descriptor's number in this process
   * @param pending the unsent bytes of a migrated connection, or {@code null}
   */
  public ReceivedHandoff(HandoffHeader header, FileDescriptor descriptor, int number,
      byte[] pending) {
    this(header, descriptor, number, pending, null);
  }

  /** As above, with a migrated connection's exported handler state ({@code null} if none). */
  public ReceivedHandoff(HandoffHeader header, FileDescriptor descriptor, int number,
      byte[] pending, byte[] state) {
    this.header = header;
    this.descriptor = descriptor;
    this.number = number;
    this.pending = pending;
    this.state = state;
  }

  /** For a migrated connection, the handler state its previous app exported; empty otherwise. */
  public byte[] state() {
    return state == null ? new byte[0] : state;
  }

  /**
   * For a migrated connection, the bytes its previous app read and had not echoed: they go to
   * the client before anything else. Empty otherwise.
   */
  public byte[] pending() {
    return pending == null ? new byte[0] : pending;
  }

  public HandoffHeader header() {
    return header;
  }

  /**
   * The descriptor, still owned by this object; {@code null} for a take-over request.
   *
   * @throws IllegalStateException after {@link #release()}
   */
  public FileDescriptor descriptor() {
    if (released) {
      throw new IllegalStateException("descriptor of " + header + " was released to its owner");
    }
    return descriptor;
  }

  /** The descriptor's number in this process. */
  public int number() {
    return number;
  }

  /**
   * Hands the descriptor to the caller, who must close it exactly once.
   *
   * @return the descriptor's number
   * @throws IllegalStateException on a second call, or after {@link #close()}
   */
  public int release() {
    if (released || descriptor == null || !descriptor.valid()) {
      throw new IllegalStateException("descriptor of " + header + " already released or closed");
    }
    released = true;
    return number;
  }

  /**
   * Two-phase take-over: this copy of a connection (a PREPARED message) completed by its SWITCHED
   * message, as one moved connection (a MIGRATED header) with the switch's unsent bytes and state.
   * The descriptor moves to the result, which owns it from then on; this object is released.
   *
   * @throws IllegalStateException if this object holds no descriptor any more
   */
  public ReceivedHandoff completedBy(ReceivedHandoff switched) {
    if (released || descriptor == null || !descriptor.valid()) {
      throw new IllegalStateException("descriptor of " + header + " already released or closed");
    }
    released = true;
    byte[] unsent = switched.pending();
    byte[] handlers = switched.state();
    return new ReceivedHandoff(header.as(HandoffHeader.Kind.MIGRATED, unsent.length,
        handlers.length), descriptor, number, unsent, handlers);
  }

  /** Closes the descriptor unless it was released; safe to call more than once. */
  @Override
  public void close() {
    if (!released && descriptor != null) {
      Descriptors.close(descriptor);
    }
  }

  @Override
  public String toString() {
    return header + " fd " + number;
  }
}
