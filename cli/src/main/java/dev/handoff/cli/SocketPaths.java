package dev.handoff.cli;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Checks a unix socket path before anything is started, so that a typo is a usage error. */
public final class SocketPaths {
  /** sun_path holds 108 bytes on Linux, one of which is the terminating NUL. */
  public static final int MAX_BYTES = 107;

  private SocketPaths() {}

  /**
   * Returns why the path cannot be used, or {@code null} if it can.
   *
   * @param mustWrite whether this process creates the socket file (the app) rather than only
   *     connecting to it (the proxy)
   */
  public static String problem(Path path, boolean mustWrite) {
    Path absolute = path.toAbsolutePath();
    int bytes = absolute.toString().getBytes(StandardCharsets.UTF_8).length;
    if (bytes > MAX_BYTES) {
      return "socket path " + absolute + " is " + bytes + " bytes; the limit is " + MAX_BYTES;
    }
    Path dir = absolute.getParent();
    if (dir == null || !Files.isDirectory(dir)) {
      return "socket directory " + dir + " does not exist";
    }
    if (mustWrite && !Files.isWritable(dir)) {
      return "socket directory " + dir + " is not writable";
    }
    return null;
  }
}
