package dev.handoff.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The process's open-file limit, from /proc/self/limits (the JVM has already raised the soft
 * limit to the hard one), and the connection cap derived from it.
 */
final class OpenFileLimit {
  /**
   * Descriptors kept back from connections: the JVM's own (about 30), the links, and what one
   * message can bring (up to 253, the kernel's SCM_MAX_FD, all of which must be installed so that
   * they can be closed).
   */
  static final int RESERVE = 320;

  private OpenFileLimit() {}

  static int defaultMaxConnections() {
    return Math.max(1, current() - RESERVE);
  }

  /** The soft limit on open files, or a large number if it cannot be read. */
  static int current() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
        if (line.startsWith("Max open files")) {
          String soft = line.substring("Max open files".length()).trim().split("\\s+")[0];
          return soft.equals("unlimited") ? Integer.MAX_VALUE : Integer.parseInt(soft);
        }
      }
    } catch (IOException | RuntimeException e) {
      // fall through
    }
    return Integer.MAX_VALUE;
  }
}
