package dev.handoff.proxy.upgrade;

import java.io.FileDescriptor;
import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * A listening socket of this proxy as an upgrade sees it: passed on to a proxy taking over, then
 * no longer accepted on (or accepted on again if that proxy goes away) until all it accepted is
 * settled. The proxy's listeners implement it; the tests drive fakes.
 */
public interface Listener {
  /** The configured address to accept on, matched against the sockets a new proxy receives. */
  InetSocketAddress address();

  /** The port actually accepted on. */
  int listenerPort();

  /** The listening descriptor to pass on; it stays the listener's. */
  FileDescriptor listenerDescriptor() throws IOException;

  /** Stops accepting: the proxy taking over accepts on the same socket now. */
  void stopAccepting() throws IOException, InterruptedException;

  /** Accepts again, after the proxy taking over went away. */
  void resumeAccepting() throws IOException;

  /** Whether every connection accepted here is handed off or closed. */
  boolean settled();
}
