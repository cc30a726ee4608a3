package dev.handoff.common.internal;

import dev.handoff.common.Descriptors;
import java.io.FileDescriptor;
import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.net.InetSocketAddress;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SocketChannel;

/**
 * The two JDK internals this project needs, and nothing else.
 *
 * <p>Why: the JDK gives no public way to get the descriptor of a {@link SocketChannel} (the proxy
 * must send it), to set {@code O_NONBLOCK} on a bare {@link FileDescriptor} (the app must, since
 * a proxy may hand over a blocking socket and the echo engine would then stall on a write), nor to
 * wrap a descriptor number that another library owns (an app hands Netty's sockets to its
 * successor). All three
 * live in {@code sun.nio.ch}, which is reachable only when the JVM runs with
 * {@code --add-exports java.base/sun.nio.ch=ALL-UNNAMED}; the jars say so in their manifest
 * ({@code Add-Exports}) and the launchers and test configuration pass the flag. Access is by method
 * handle so that the code compiles with {@code --release 17}, which refuses the flag.
 *
 * <p>A fourth, for servers without Netty: wrapping a received TCP descriptor in a JDK {@link
 * SocketChannel} ({@link #socketChannel}). Its constructor is not even exported, so that one also
 * needs {@code --add-opens java.base/sun.nio.ch=ALL-UNNAMED} (manifest: {@code Add-Opens}); it is
 * looked up on first use, and only its callers need the flag. A fifth, for the proxy's own
 * upgrade, is of the same kind: wrapping a listening TCP descriptor passed on by the proxy being
 * replaced in a JDK {@link java.nio.channels.ServerSocketChannel} ({@link #serverSocketChannel}).
 * A sixth, for a proxy that routes by first bytes: {@code TCP_DEFER_ACCEPT} on its listening socket
 * ({@link #setTcpDeferAccept}), which the JDK's socket options do not offer; it calls the JDK's own
 * {@code setsockopt} wrapper, and needs {@code Add-Opens} as the two above.
 */
public final class JdkNioInternals {
  /**
   * Whom the JVM options must open {@code sun.nio.ch} to: this library's module on the module
   * path, every class-path jar otherwise.
   */
  private static final String TARGET = JdkNioInternals.class.getModule().isNamed()
      ? JdkNioInternals.class.getModule().getName() : "ALL-UNNAMED";
  private static final MethodHandle GET_FD;
  private static final MethodHandle CONFIGURE_BLOCKING;
  private static final MethodHandle NEW_FD;
  private static final MethodHandle GET_FD_VAL;
  private static final IllegalStateException UNAVAILABLE;

  static {
    MethodHandle getFd = null;
    MethodHandle configureBlocking = null;
    MethodHandle newFd = null;
    MethodHandle getFdVal = null;
    IllegalStateException unavailable = null;
    try {
      MethodHandles.Lookup lookup = MethodHandles.lookup();
      getFd = lookup.findVirtual(Class.forName("sun.nio.ch.SelChImpl"), "getFD",
          MethodType.methodType(FileDescriptor.class));
      configureBlocking = lookup.findStatic(Class.forName("sun.nio.ch.IOUtil"),
          "configureBlocking", MethodType.methodType(void.class, FileDescriptor.class, boolean.class));
      newFd = lookup.findStatic(Class.forName("sun.nio.ch.IOUtil"), "newFD",
          MethodType.methodType(FileDescriptor.class, int.class));
      getFdVal = lookup.findVirtual(Class.forName("sun.nio.ch.SelChImpl"), "getFDVal",
          MethodType.methodType(int.class));
    } catch (ReflectiveOperationException | RuntimeException e) {
      unavailable = new IllegalStateException(
          "JDK internals unavailable: run the JVM with --add-exports java.base/sun.nio.ch=" + TARGET
              + " (the launchers in scripts/ do)", e);
    }
    GET_FD = getFd;
    CONFIGURE_BLOCKING = configureBlocking;
    NEW_FD = newFd;
    GET_FD_VAL = getFdVal;
    UNAVAILABLE = unavailable;
  }

  private JdkNioInternals() {}

  /**
   * A constructor of a {@code sun.nio.ch} channel class, looked up on first use: it needs
   * {@code --add-opens java.base/sun.nio.ch=ALL-UNNAMED}, which only its callers need.
   */
  private record Constructor(String className, java.lang.reflect.Constructor<?> constructor,
      IllegalStateException unavailable) {
    static Constructor lookUp(String className, String what, Class<?>... parameters) {
      try {
        java.lang.reflect.Constructor<?> c =
            Class.forName("sun.nio.ch." + className).getDeclaredConstructor(parameters);
        c.setAccessible(true);
        return new Constructor(className, c, null);
      } catch (ReflectiveOperationException | RuntimeException e) {
        return new Constructor(className, null, new IllegalStateException("cannot make a JDK "
            + what + " from a descriptor: run the JVM with"
            + " --add-opens java.base/sun.nio.ch=" + TARGET, e));
      }
    }

    void require() {
      requireAvailable();
      if (unavailable != null) {
        throw unavailable;
      }
    }

    /** A new channel on {@code fd}; a failure leaves {@code fd} to the caller. */
    Object newChannel(FileDescriptor fd, Object... arguments) throws IOException {
      require();
      try {
        return constructor.newInstance(arguments);
      } catch (java.lang.reflect.InvocationTargetException e) {
        if (e.getCause() instanceof IOException io) {
          throw io;
        }
        throw new IllegalStateException(className + " on fd " + Descriptors.number(fd),
            e.getCause());
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException(className + " on fd " + Descriptors.number(fd), e);
      }
    }
  }

  /** Holds the SocketChannelImpl constructor, looked up on first use. */
  private static final class SocketChannels {
    static final Constructor CONSTRUCTOR = Constructor.lookUp("SocketChannelImpl",
        "SocketChannel", java.nio.channels.spi.SelectorProvider.class,
        java.net.ProtocolFamily.class, FileDescriptor.class, java.net.SocketAddress.class);
  }

  /** Holds the ServerSocketChannelImpl constructor, looked up on first use. */
  private static final class ServerSocketChannels {
    static final Constructor CONSTRUCTOR = Constructor.lookUp("ServerSocketChannelImpl",
        "ServerSocketChannel", java.nio.channels.spi.SelectorProvider.class,
        java.net.ProtocolFamily.class, FileDescriptor.class, boolean.class);
  }

  /** Fails fast if {@link #serverSocketChannel} cannot work in this JVM. */
  public static void requireServerSocketChannels() {
    ServerSocketChannels.CONSTRUCTOR.require();
  }

  /**
   * A JDK {@link java.nio.channels.ServerSocketChannel} on a bound, listening TCP descriptor
   * (one received from another process, say), in blocking mode, as {@link
   * System#inheritedChannel()} makes one of descriptor 0. The channel owns the descriptor from
   * then on: closing the channel closes it (close(2), never shutdown(2), so other processes'
   * copies of the listening socket keep listening), and nothing else may. Nothing is changed on
   * the socket itself: in particular not its {@code O_NONBLOCK} flag, which every copy shares.
   *
   * @param family {@code INET} or {@code INET6}, the socket's address family
   */
  public static java.nio.channels.ServerSocketChannel serverSocketChannel(FileDescriptor fd,
      java.net.ProtocolFamily family) throws IOException {
    return (java.nio.channels.ServerSocketChannel) ServerSocketChannels.CONSTRUCTOR.newChannel(fd,
        java.nio.channels.spi.SelectorProvider.provider(), family, fd, true);
  }

  /**
   * As {@link #serverSocketChannel(FileDescriptor, java.net.ProtocolFamily)}, the family read from
   * the socket's own address ({@code INET6} for an IPv6 address, {@code INET} otherwise).
   */
  public static java.nio.channels.ServerSocketChannel serverSocketChannel(FileDescriptor fd)
      throws IOException {
    InetSocketAddress local = JunixsocketInternals.socketAddress(fd, false);
    return serverSocketChannel(fd, local != null
        && local.getAddress() instanceof java.net.Inet6Address
        ? java.net.StandardProtocolFamily.INET6 : java.net.StandardProtocolFamily.INET);
  }

  /** Fails fast if {@link #socketChannel} cannot work in this JVM. */
  public static void requireSocketChannels() {
    SocketChannels.CONSTRUCTOR.require();
  }

  /**
   * A connected JDK {@link SocketChannel} on a TCP descriptor, in blocking mode. The channel owns
   * the descriptor from then on: closing the channel closes it, and nothing else may.
   *
   * @param family {@code INET} or {@code INET6}, the socket's address family
   * @param remote the peer's address
   */
  public static SocketChannel socketChannel(FileDescriptor fd, java.net.ProtocolFamily family,
      java.net.SocketAddress remote) throws IOException {
    SocketChannel channel = (SocketChannel) SocketChannels.CONSTRUCTOR.newChannel(fd,
        java.nio.channels.spi.SelectorProvider.provider(), family, fd, remote);
    channel.configureBlocking(true);
    return channel;
  }

  private static final class DeferAccept {
    static final java.lang.reflect.Method SET_INT_OPTION;
    static final IllegalStateException UNAVAILABLE;

    static {
      java.lang.reflect.Method set = null;
      IllegalStateException unavailable = null;
      try {
        set = Class.forName("sun.nio.ch.Net").getDeclaredMethod("setIntOption0",
            FileDescriptor.class, boolean.class, int.class, int.class, int.class, boolean.class);
        set.setAccessible(true);
      } catch (ReflectiveOperationException | RuntimeException e) {
        unavailable = new IllegalStateException("cannot set TCP_DEFER_ACCEPT: run the JVM with"
            + " --add-opens java.base/sun.nio.ch=ALL-UNNAMED (the proxy's jar says so)", e);
      }
      SET_INT_OPTION = set;
      UNAVAILABLE = unavailable;
    }
  }

  private static final int IPPROTO_TCP = 6;
  private static final int TCP_DEFER_ACCEPT = 9;

  /**
   * Sets {@code TCP_DEFER_ACCEPT} on a listening TCP socket: the kernel hands a connection to
   * {@code accept} only once its first bytes have arrived, or, for a client that sends nothing,
   * after about {@code seconds} (the kernel's SYN-ACK retransmission schedule: 1, 3, 7... s). The
   * option belongs to the socket, so every process holding it sees it; 0 turns it off.
   */
  public static void setTcpDeferAccept(java.nio.channels.ServerSocketChannel channel, int seconds)
      throws IOException {
    if (DeferAccept.UNAVAILABLE != null) {
      throw DeferAccept.UNAVAILABLE;
    }
    boolean ipv6 = channel.getLocalAddress() instanceof java.net.InetSocketAddress a
        && a.getAddress() instanceof java.net.Inet6Address;
    try {
      DeferAccept.SET_INT_OPTION.invoke(null, descriptorOf(channel), false, IPPROTO_TCP,
          TCP_DEFER_ACCEPT, seconds, ipv6);
    } catch (java.lang.reflect.InvocationTargetException e) {
      if (e.getCause() instanceof IOException io) {
        throw io;
      }
      throw new IllegalStateException("Net#setIntOption0", e.getCause());
    } catch (IllegalAccessException e) {
      throw new IllegalStateException("Net#setIntOption0", e);
    }
  }

  /** Fails fast, at start-up, rather than on the first connection. */
  public static void requireAvailable() {
    if (UNAVAILABLE != null) {
      throw UNAVAILABLE;
    }
  }

  /**
   * The descriptor of a JDK socket or pipe channel. It still belongs to the channel: closing the channel
   * closes it.
   */
  public static FileDescriptor descriptorOf(SelectableChannel channel) {
    requireAvailable();
    try {
      return (FileDescriptor) GET_FD.invoke(channel);
    } catch (Throwable t) {
      throw new IllegalStateException("SelChImpl#getFD on " + channel, t);
    }
  }

  /**
   * The descriptor number of a JDK socket channel, to send it elsewhere. It still belongs to the
   * channel: closing the channel closes it.
   */
  public static int numberOf(SelectableChannel channel) {
    requireAvailable();
    try {
      return (int) GET_FD_VAL.invoke(channel);
    } catch (Throwable t) {
      throw new IllegalStateException("SelChImpl#getFDVal on " + channel, t);
    }
  }

  /**
   * A {@link FileDescriptor} for a descriptor number owned elsewhere, only to pass it to an API
   * that takes one. It must never be closed through this object.
   */
  public static FileDescriptor borrow(int fd) {
    requireAvailable();
    try {
      return (FileDescriptor) NEW_FD.invoke(fd);
    } catch (Throwable t) {
      throw new IllegalStateException("IOUtil#newFD", t);
    }
  }

  /** Sets or clears {@code O_NONBLOCK}, which every copy of the descriptor shares. */
  public static void setBlocking(FileDescriptor fd, boolean blocking) throws IOException {
    requireAvailable();
    try {
      CONFIGURE_BLOCKING.invoke(fd, blocking);
    } catch (IOException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("IOUtil#configureBlocking", t);
    }
  }
}
