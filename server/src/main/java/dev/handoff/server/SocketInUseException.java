package dev.handoff.server;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Another process accepts on the socket path, so binding it would steal its connections: the path
 * was left alone. (Use {@link HandoffServerBootstrap#takeOver} to replace a running app on purpose.)
 */
public final class SocketInUseException extends IOException {
  private static final long serialVersionUID = 1L;

  SocketInUseException(Path path) {
    super("another app is listening on " + path + "; refusing to take it over");
  }
}
