package dev.handoff.proxy;

import java.io.IOException;
import java.nio.channels.Channel;
import java.nio.channels.ServerSocketChannel;

/**
 * The listening socket systemd passes in (socket activation, proxy.socket).
 *
 * <p>systemd hands it over as descriptor 3 with LISTEN_FDS=1 and LISTEN_PID set to the service's
 * pid. The JDK can only adopt a listening socket found on descriptor 0 ({@link
 * System#inheritedChannel()}, the inetd convention), so the launcher (scripts/launch.sh), after
 * checking LISTEN_PID against its own pid (which java keeps, since the launcher execs it), moves
 * descriptor 3 to 0 and sets HANDOFF_LISTEN_FD0=1. Without that variable the proxy binds its port
 * itself.
 */
final class SocketActivation {
  static final String MARKER = "HANDOFF_LISTEN_FD0";

  private SocketActivation() {}

  /**
   * Returns the passed-in listening socket, or {@code null} if none was passed.
   *
   * @throws IOException if one was announced but descriptor 0 is not a listening TCP socket
   */
  static ServerSocketChannel listener() throws IOException {
    if (!"1".equals(System.getenv(MARKER))) {
      return null;
    }
    Channel inherited = System.inheritedChannel();
    if (inherited instanceof ServerSocketChannel server) {
      return server;
    }
    throw new IOException("socket activation: descriptor 0 is not a listening TCP socket ("
        + (inherited == null ? "not a socket" : inherited.getClass().getSimpleName()) + ")");
  }
}
