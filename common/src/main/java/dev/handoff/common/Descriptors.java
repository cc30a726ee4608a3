package dev.handoff.common;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import org.newsclub.net.unix.FileDescriptorCast;

/** Small operations on bare {@link FileDescriptor}s that the JDK leaves out. */
public final class Descriptors {
  private Descriptors() {}

  /**
   * Closes the descriptor (close(2), never shutdown(2), so other copies of the socket in other
   * processes stay connected). Closing an already closed descriptor does nothing.
   */
  public static void close(FileDescriptor fd) {
    if (fd == null || !fd.valid()) {
      return;
    }
    // FileInputStream is the JDK's public way to close a bare descriptor; it also runs the
    // cleanup junixsocket attached to descriptors it received, so its bookkeeping forgets them.
    try (FileInputStream ignored = new FileInputStream(fd)) {
      // nothing to read
    } catch (IOException e) {
      // close(2) failing leaves nothing to release
    }
  }

  /**
   * A new descriptor for the same open file (dup(2)), which the caller owns and must close.
   *
   * @throws IOException if the process is out of descriptors, or {@code fd} is not open
   */
  public static FileDescriptor duplicate(FileDescriptor fd) throws IOException {
    return FileDescriptorCast.duplicating(fd).getFileDescriptor();
  }

  /** The descriptor's number, for logs and for APIs that take an int. */
  public static int number(FileDescriptor fd) {
    if (fd == null || !fd.valid()) {
      return -1;
    }
    try {
      return FileDescriptorCast.using(fd).as(Integer.class);
    } catch (IOException e) {
      return -1;
    }
  }
}
