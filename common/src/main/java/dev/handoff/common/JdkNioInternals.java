package dev.handoff.common;

import java.io.FileDescriptor;
import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
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
 */
public final class JdkNioInternals {
  private static final MethodHandle GET_FD;
  private static final MethodHandle CONFIGURE_BLOCKING;
  private static final MethodHandle NEW_FD;
  private static final IllegalStateException UNAVAILABLE;

  static {
    MethodHandle getFd = null;
    MethodHandle configureBlocking = null;
    MethodHandle newFd = null;
    IllegalStateException unavailable = null;
    try {
      MethodHandles.Lookup lookup = MethodHandles.lookup();
      getFd = lookup.findVirtual(Class.forName("sun.nio.ch.SelChImpl"), "getFD",
          MethodType.methodType(FileDescriptor.class));
      configureBlocking = lookup.findStatic(Class.forName("sun.nio.ch.IOUtil"),
          "configureBlocking", MethodType.methodType(void.class, FileDescriptor.class, boolean.class));
      newFd = lookup.findStatic(Class.forName("sun.nio.ch.IOUtil"), "newFD",
          MethodType.methodType(FileDescriptor.class, int.class));
    } catch (ReflectiveOperationException | RuntimeException e) {
      unavailable = new IllegalStateException(
          "JDK internals unavailable: run the JVM with --add-exports java.base/sun.nio.ch=ALL-UNNAMED"
              + " (the launchers in scripts/ do)", e);
    }
    GET_FD = getFd;
    CONFIGURE_BLOCKING = configureBlocking;
    NEW_FD = newFd;
    UNAVAILABLE = unavailable;
  }

  private JdkNioInternals() {}

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
