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
    BAD_MAGIC(false),
    BAD_VERSION(false),
    BAD_LENGTH(false),
    TRUNCATED(false),
    BAD_ADDRESS(true),
    NO_DESCRIPTOR(true),
    EXTRA_DESCRIPTORS(true),
    NOT_A_CONNECTED_STREAM_SOCKET(true),
    /** The descriptor could not be taken over, typically EMFILE. */
    NO_RESOURCES(true);

    private final boolean resynchronisable;

    Reason(boolean resynchronisable) {
      this.resynchronisable = resynchronisable;
    }

    /**
     * Whether the byte stream is still at a message boundary after this error, so the link may
     * carry on with the next message.
     */
    public boolean resynchronisable() {
      return resynchronisable;
    }
  }

  private final Reason reason;

  public HandoffException(Reason reason, String message) {
    super(message);
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }
}
