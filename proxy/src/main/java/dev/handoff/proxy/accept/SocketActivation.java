package dev.handoff.proxy.accept;

import dev.handoff.common.Descriptors;
import dev.handoff.common.internal.JdkNioInternals;
import java.io.FileDescriptor;
import java.io.IOException;
import org.newsclub.net.unix.FileDescriptorCast;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
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
public final class SocketActivation {
  private static final Logger log = LoggerFactory.getLogger(SocketActivation.class);
  /** How the log says where such a socket came from. */
  public static final String SOURCE = " (socket passed in by systemd)";
  public static final String MARKER = "HANDOFF_LISTEN_FD0";

  private SocketActivation() {}

  /**
   * A channel on a duplicate of the inherited socket's descriptor. Why: the JDK's close of an
   * inherited channel points descriptors 0, 1 and 2 at /dev/null (the inetd convention), which
   * silences the log from then on: the lines of an orderly shutdown, and everything a proxy that
   * stopped accepting for an upgrade logs afterwards (also when it accepts again because the new
   * proxy died). The inherited channel itself stays open, unused, until the process exits (the
   * JDK keeps it: {@link System#inheritedChannel()} returns the same one each time).
   * Without the JDK internals this needs, the inherited channel is used as it is.
   */
  private static ServerSocketChannel detached(ServerSocketChannel inherited) throws IOException {
    FileDescriptor dup;
    try {
      JdkNioInternals.requireServerSocketChannels();
      dup = FileDescriptorCast.duplicating(JdkNioInternals.descriptorOf(inherited))
          .getFileDescriptor();
    } catch (IllegalStateException e) {
      log.debug("using the inherited channel itself: {}", e.getMessage());
      return inherited;
    }
    try {
      return JdkNioInternals.serverSocketChannel(dup);
    } catch (IOException | RuntimeException e) {
      Descriptors.close(dup);
      log.debug("using the inherited channel itself: {}", e.getMessage());
      return inherited;
    }
  }

  /**
   * Returns the passed-in listening socket, or {@code null} if none was passed.
   *
   * @throws IOException if one was announced but descriptor 0 is not a listening TCP socket
   */
  public static ServerSocketChannel listener() throws IOException {
    if (!"1".equals(System.getenv(MARKER))) {
      return null;
    }
    Channel inherited = System.inheritedChannel();
    if (inherited instanceof ServerSocketChannel server) {
      return detached(server);
    }
    throw new IOException("socket activation: descriptor 0 is not a listening TCP socket ("
        + (inherited == null ? "not a socket" : inherited.getClass().getSimpleName()) + ")");
  }
}
