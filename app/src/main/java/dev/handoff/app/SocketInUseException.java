package dev.handoff.app;

import java.io.IOException;
import java.nio.file.Path;

/** Another app accepts on the socket path; this one must not take it over. */
final class SocketInUseException extends IOException {
  private static final long serialVersionUID = 1L;

  SocketInUseException(Path path) {
    super("another app is listening on " + path + "; refusing to take it over");
  }
}
