package dev.handoff.proxy.link;

import dev.handoff.proxy.accept.AcceptedConnection;
/**
 * Where an {@link AppLink} hands connections back when it is done with them, and how it says that
 * its state changed. Each method takes ownership of the connection it is given.
 */
interface LinkEvents {
  /** The app adopted it: the proxy's copy goes. */
  void adopted(AcceptedConnection conn);

  /**
   * The app ended the link it was in flight on without answering it, which means the app does not
   * have it: send it again, first in line.
   */
  void resend(AcceptedConnection conn);

  /** The app was out of room (RETRY): send it again when a link has room. */
  void retryLater(AcceptedConnection conn);

  /** The app refused it for good. */
  void rejected(AcceptedConnection conn);

  /**
   * The proxy closed the link it was in flight on (no answer in time, framing lost, shutdown): the
   * app may own the connection, so the proxy closes its copy and never sends it again.
   */
  void abandoned(AcceptedConnection conn);

  /** A link came up, went down, or has room again. */
  void linksChanged();
}
