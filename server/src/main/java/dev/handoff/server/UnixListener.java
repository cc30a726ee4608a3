package dev.handoff.server;

import java.io.Closeable;
import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AddressAlreadyInUseSocketException;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The app's unix socket: binds it without ever taking over a live one, gives it its mode before
 * anyone can connect, and removes it on close if it is still ours.
 *
 * <p>How: a stale file (a socket nobody accepts on) is removed; a live one, or anything that is
 * not a socket, is left alone. The bind itself is done without address reuse, so it fails if
 * anything has appeared at the path in the meantime (bind(2) never follows a symlink either);
 * junixsocket's default would move a live socket aside. The mode is applied right after the bind;
 * until then the file has the process umask's permissions.
 */
final class UnixListener implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(UnixListener.class);
  private static final int S_IFMT = 0170000;
  private static final int S_IFSOCK = 0140000;

  private final Path path;
  private final AFUNIXServerSocketChannel channel;
  private final Object inode;

  private UnixListener(Path path, AFUNIXServerSocketChannel channel, Object inode) {
    this.path = path;
    this.channel = channel;
    this.inode = inode;
  }

  /**
   * Binds the socket at {@code path} with the given mode.
   *
   * @throws SocketInUseException if another process accepts on the path
   * @throws IOException if the path holds something other than a socket, or binding fails
   */
  static UnixListener bind(Path path, Set<PosixFilePermission> mode, int backlog)
      throws IOException {
    removeIfStale(path);
    AFUNIXServerSocketChannel channel = AFUNIXServerSocketChannel.open();
    try {
      channel.setDeleteOnClose(false);
      // Without this junixsocket would move whatever is at the path aside and bind anyway.
      channel.socket().setReuseAddress(false);
      try {
        channel.bind(AFUNIXSocketAddress.of(path), backlog);
      } catch (AddressAlreadyInUseSocketException e) {
        // Something appeared at the path since removeIfStale looked: another app won the race.
        throw new SocketInUseException(path);
      }
      Files.setPosixFilePermissions(path, mode);
      log.debug("bound {} (mode {})", path, PosixFilePermissions.toString(mode));
      return new UnixListener(path, channel, inodeOf(path));
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  /** Blocks until a proxy links; the caller owns the returned channel. */
  AFUNIXSocketChannel accept() throws IOException {
    return channel.accept();
  }

  /**
   * Makes a blocked {@link #accept} return, with a connection that the caller closes: one of the
   * JDK's own unix sockets, connected and closed at once. Returns false if it could not connect.
   */
  boolean wakeAccept() {
    try (SocketChannel wake = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      wake.connect(UnixDomainSocketAddress.of(path));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  Path path() {
    return path;
  }

  /** Stops accepting and removes the socket file, unless another app has replaced it since. */
  @Override
  public void close() throws IOException {
    channel.close();
    try {
      if (inode.equals(inodeOf(path))) {
        Files.delete(path);
      }
    } catch (NoSuchFileException e) {
      // already gone
    }
  }

  private static void removeIfStale(Path path) throws IOException {
    int mode;
    try {
      mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      return;
    }
    if ((mode & S_IFMT) != S_IFSOCK) {
      throw new IOException(path + " exists and is not a socket (a file, directory or symlink);"
          + " refusing to replace it");
    }
    // The JDK's own unix socket, as for wakeAccept: a refused junixsocket connect was where the
    // descriptor a rolled-back take-over left open came from (in junixsocket's own close).
    try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      probe.connect(UnixDomainSocketAddress.of(path));
      throw new SocketInUseException(path);
    } catch (ConnectException e) {
      // Nobody accepts on it: a crashed app left it behind.
      log.info("removing stale socket file {} ({})", path, e.getMessage());
      Files.deleteIfExists(path);
    }
  }

  private static Object inodeOf(Path path) throws IOException {
    return Files.getAttribute(path, "unix:ino", LinkOption.NOFOLLOW_LINKS);
  }
}
