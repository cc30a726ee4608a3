package dev.handoff.common;

import java.io.Closeable;
import java.io.IOException;

/** Closing what is being given up on, where a failure to close changes nothing. */
public final class Closeables {
  private Closeables() {}

  /**
   * Closes {@code c} if it is not null; an {@link IOException} is dropped: the caller is giving
   * {@code c} up and has nothing left to release.
   */
  public static void closeQuietly(Closeable c) {
    if (c == null) {
      return;
    }
    try {
      c.close();
    } catch (IOException e) {
      // nothing left to release
    }
  }
}
