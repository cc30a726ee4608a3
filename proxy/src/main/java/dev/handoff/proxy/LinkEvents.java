package dev.handoff.proxy;

/**
 * Where an {@link AppLink} hands connections back when it is done with them, and how it says that
 * its state changed. Each method takes ownership of the connection it is given.
 */
interface LinkEvents {
  /** The app adopted it: the proxy's copy goes. */
  void adopted(AcceptedConnection conn);

  /** The link it was in flight on was lost before an answer: send it again, first in line. */
  void resend(AcceptedConnection conn);

  /** The app was out of descriptors: send it again a little later. */
  void retryLater(AcceptedConnection conn);

  /** The app refused it for good. */
  void rejected(AcceptedConnection conn);

  /** The app neither answered nor closed the link in time; it may own the connection. */
  void abandoned(AcceptedConnection conn);

  /** A link came up, went down, or has room again. */
  void linksChanged();
}
