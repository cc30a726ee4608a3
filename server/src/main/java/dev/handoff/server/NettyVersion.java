package dev.handoff.server;

/**
 * The Netty line the library runs on: 4.2, whose {@code IoEventLoop} and {@code IoHandle} read the
 * proxies' links on the server's own event loops. With Netty 4.1 on the class path, binding fails
 * at once with a message that says so, rather than with a {@code NoClassDefFoundError} from deep
 * inside.
 */
final class NettyVersion {
  private static final String MISSING = check(NettyVersion.class.getClassLoader());

  private NettyVersion() {}

  /** @throws IllegalStateException if the Netty on the class path is not 4.2 */
  static void require() {
    if (MISSING != null) {
      throw new IllegalStateException(MISSING);
    }
  }

  /** Why Netty as {@code loader} sees it cannot serve, or {@code null} if it can. */
  static String check(ClassLoader loader) {
    try {
      Class.forName("io.netty.channel.IoHandle", false, loader);
      Class.forName("io.netty.channel.epoll.EpollIoHandle", false, loader);
      return null;
    } catch (ClassNotFoundException | LinkageError e) {
      return "handoff-server needs Netty 4.2 (netty-transport and netty-transport-native-epoll"
          + " 4.2.x); the class path has " + found(loader) + ", without " + e.getMessage();
    }
  }

  private static String found(ClassLoader loader) {
    try {
      Class<?> version = Class.forName("io.netty.util.Version", true, loader);
      Object all = version.getMethod("identify", ClassLoader.class).invoke(null, loader);
      Object transport = ((java.util.Map<?, ?>) all).get("netty-transport");
      return transport == null ? "an unknown Netty"
          : "Netty " + transport.getClass().getMethod("artifactVersion").invoke(transport);
    } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
      return "no Netty";
    }
  }
}
