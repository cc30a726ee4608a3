package dev.handoff.common;

/**
 * The app's answer to one handoff, sent back on the same link.
 *
 * @param connectionId the handoff's connection id
 * @param status what the app did with the descriptor
 */
public record Acknowledgement(long connectionId, Status status) {
  /** What the app did with a handoff. */
  public enum Status {
    /** The app owns the connection; the proxy closes its copy. */
    ADOPTED,
    /** The app could not take it now (out of descriptors); the proxy may send it again. */
    RETRY,
    /** The app will never take it; the proxy closes its copy. */
    REJECTED,
    /**
     * Connection id 0: the app takes no more handoffs on this link (it is shutting down or
     * handing over). It still answers what it has already received; the proxy stops sending and
     * shuts down its sending side, so that the app reads to the end and closes the link.
     */
    CLOSING;

    static Status of(int code) {
      Status[] all = values();
      return code >= 0 && code < all.length ? all[code] : null;
    }
  }
}
