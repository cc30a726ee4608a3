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
    REJECTED;

    static Status of(int code) {
      Status[] all = values();
      return code >= 0 && code < all.length ? all[code] : null;
    }
  }
}
