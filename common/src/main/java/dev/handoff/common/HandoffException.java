package dev.handoff.common;

import java.io.IOException;

/**
 * A handoff message that was refused: it breaks the protocol, or this process could not take the
 * descriptor it carried. Every descriptor that came with it has already been
 * closed by whoever throws this; the catcher only decides whether the link can go on.
 */
public final class HandoffException extends IOException {
  private static final long serialVersionUID = 1L;

  /** Why a message was rejected; also the label under which rejections are counted. */
  public enum Reason {
    BAD_MAGIC(false, false),
    BAD_VERSION(false, false),
    BAD_LENGTH(false, false),
    TRUNCATED(false, false),
    /**
     * A header whose flags name no kind this side knows. The header was read whole and a message
     * of an unknown kind carries nothing after it (docs/PROTOCOL.md), so the link goes on.
     */
    UNKNOWN_KIND(true, false),
    BAD_ADDRESS(true, false),
    /**
     * A well-formed header without a descriptor. From a real proxy this means the kernel could not
     * install the descriptor here (EMFILE at receive time), so the proxy may try again.
     */
    NO_DESCRIPTOR(true, true),
    EXTRA_DESCRIPTORS(true, false),
    NOT_A_CONNECTED_STREAM_SOCKET(true, false),
    /**
     * A TCP socket whose client went away (reset or closed) before it could be served: ordinary
     * under load, counted but not worth a warning.
     */
    CLIENT_GONE(true, false),
    /** The descriptor could not be taken over, typically EMFILE; the proxy may try again. */
    NO_RESOURCES(true, true),
    /**
     * An acknowledgement read whole, with a status this version does not know (a newer app): the
     * stream is still in sync, so the link goes on; the proxy keeps waiting for a known answer.
     */
    UNKNOWN_STATUS(true, false);

    private final boolean resynchronisable;
    private final boolean retryable;

    Reason(boolean resynchronisable, boolean retryable) {
      this.resynchronisable = resynchronisable;
      this.retryable = retryable;
    }

    /** Whether the sender, which still holds its copy, may send the same connection again later. */
    public boolean retryable() {
      return retryable;
    }

    /**
     * Whether the byte stream is still at a message boundary after this error, so the link may
     * carry on with the next message.
     */
    public boolean resynchronisable() {
      return resynchronisable;
    }
  }

  /** Marks an exception raised before the message's connection id was known. */
  public static final long UNKNOWN_CONNECTION = -1;

  private final Reason reason;
  private final long connectionId;

  public HandoffException(Reason reason, String message) {
    this(reason, UNKNOWN_CONNECTION, message);
  }

  public HandoffException(Reason reason, long connectionId, String message) {
    super(message);
    this.reason = reason;
    this.connectionId = connectionId;
  }

  public Reason reason() {
    return reason;
  }

  /** The refused message's connection id, or {@link #UNKNOWN_CONNECTION}. */
  public long connectionId() {
    return connectionId;
  }
}
