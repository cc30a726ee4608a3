package dev.handoff.server;

import java.net.SocketAddress;
import java.nio.file.Path;
import java.util.Objects;

/**
 * The unix socket path a {@link HandoffServerChannel} binds: where proxies link to hand their
 * connections over. Give it to {@code ServerBootstrap.bind} as a port is given to an epoll server
 * socket channel.
 */
public final class HandoffAddress extends SocketAddress {
  private static final long serialVersionUID = 1L;

  /** Kept as a string: a {@link Path} is not serializable. */
  private final String path;

  /** The socket at {@code path}, made absolute. */
  public HandoffAddress(Path path) {
    this.path = Objects.requireNonNull(path, "path").toAbsolutePath().toString();
  }

  /** The socket at {@code path}, made absolute. */
  public HandoffAddress(String path) {
    this(Path.of(path));
  }

  /** The socket file's absolute path. */
  public Path path() {
    return Path.of(path);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof HandoffAddress a && a.path.equals(path);
  }

  @Override
  public int hashCode() {
    return path.hashCode();
  }

  @Override
  public String toString() {
    return "handoff:" + path;
  }
}
