package dev.handoff.common.internal;

import java.io.FileDescriptor;
import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Map;
import org.newsclub.net.unix.AFSocket;
import org.newsclub.net.unix.AFUNIXSocketChannel;

/**
 * The one place that reaches into junixsocket's internals, and why: the size of the control
 * buffer (below), taking a received descriptor without duplicating it ({@link
 * #receivedDescriptors}), the address of a bare descriptor ({@link #socketAddress}), and
 * recv(2) with {@code MSG_PEEK} on a TCP socket ({@link #peek}, {@link #available}).
 *
 * <p>junixsocket 2.11 caps the public {@code setAncillaryReceiveBufferSize} at 256 bytes, room for
 * about 60 descriptors. When a message carries more, the kernel truncates the control data
 * ({@code MSG_CTRUNC}) after installing the first 60; junixsocket then throws "No buffer space
 * available" and never reports those 60, so nobody can close them (measured: 70 sent, 58 left
 * open after the channel closed). A hostile sender could leak descriptors that way at will.
 *
 * <p>The kernel never sends more than 253 descriptors in one message (SCM_MAX_FD; more is EINVAL
 * at the sender), so a buffer of {@link #FULL_BUFFER} bytes always holds all of them, and the
 * receiver sees, and closes, every one. junixsocket's package-private setter allocates exactly
 * the size it is given; it is reached by reflection, which needs no JVM flag for a library on the
 * class path.
 */
public final class JunixsocketInternals {
  /** CMSG_SPACE(253 * sizeof(int)) rounded up: 16 + 1012, to 1040. */
  public static final int FULL_BUFFER = 1040;

  /** The JVM option that opens junixsocket to this library on the module path. */
  public static final String OPENS =
      "--add-opens org.newsclub.net.unix/org.newsclub.net.unix=dev.handoff.common";

  private JunixsocketInternals() {}

  /**
   * Gives the channel a control buffer that holds the largest SCM_RIGHTS message the kernel sends.
   *
   * @throws IllegalStateException if this junixsocket version no longer has the internals used
   */
  public static void setFullAncillaryReceiveBuffer(AFUNIXSocketChannel channel) {
    try {
      Object ancillary = ancillarySupport(channel);
      Method allocate = ancillary.getClass()
          .getDeclaredMethod("setAncillaryReceiveBufferSize0", int.class);
      allocate.setAccessible(true);
      allocate.invoke(ancillary, FULL_BUFFER);
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new IllegalStateException((e instanceof java.lang.reflect.InaccessibleObjectException
          ? "junixsocket's package is not open to this library (on the module path, run the JVM"
              + " with " + OPENS + ")" : "junixsocket internals changed")
          + ": cannot size the ancillary receive buffer to " + FULL_BUFFER + " bytes", e);
    }
    if (channel.getAncillaryReceiveBufferSize() != FULL_BUFFER) {
      throw new IllegalStateException("junixsocket ignored the ancillary buffer size");
    }
  }

  /**
   * The map in which junixsocket keeps every descriptor the channel received and nobody has closed
   * yet (with its number), to close them when the channel closes: a receiver that takes a
   * descriptor out of it owns it for good, without the dup(2), the close(2) of the original and
   * the type probe of {@code FileDescriptorCast.duplicating}, which cost a received connection
   * four system calls.
   *
   * @return the map, or {@code null} if this junixsocket version keeps no such map where 2.11
   *     does (the caller then duplicates as before)
   */
  @SuppressWarnings("unchecked")
  public static Map<FileDescriptor, Integer> receivedDescriptors(AFUNIXSocketChannel channel) {
    try {
      Object ancillary = ancillarySupport(channel);
      Field open = ancillary.getClass().getDeclaredField("openReceivedFileDescriptors");
      open.setAccessible(true);
      return (Map<FileDescriptor, Integer>) open.get(ancillary);
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
  }

  private static Object ancillarySupport(AFUNIXSocketChannel channel)
      throws ReflectiveOperationException {
    Method getImpl = AFSocket.class.getDeclaredMethod("getAFImpl");
    getImpl.setAccessible(true);
    Object impl = getImpl.invoke(channel.socket());
    Field support = Class.forName("org.newsclub.net.unix.AFSocketImpl")
        .getDeclaredField("ancillaryDataSupport");
    support.setAccessible(true);
    return support.get(impl);
  }

  private static final int AF_INET = 2;
  private static final int AF_INET6 = 10;
  private static final Method SOCKNAME = socknameMethod();

  /** junixsocket's package-private native class, its library loaded. */
  private static Class<?> nativeSocket() throws ReflectiveOperationException {
    Class<?> nativeSocket = Class.forName("org.newsclub.net.unix.NativeUnixSocket");
    Method ensure = nativeSocket.getDeclaredMethod("ensureSupported");
    ensure.setAccessible(true);
    ensure.invoke(null);
    return nativeSocket;
  }

  private static Method socknameMethod() {
    try {
      Method sockname = nativeSocket().getDeclaredMethod("sockname", int.class,
          FileDescriptor.class, boolean.class);
      sockname.setAccessible(true);
      return sockname;
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      return null;
    }
  }

  /**
   * The native receive, which does a plain {@code recv(fd, buf, len, flags)} when given no
   * address and no ancillary buffer, on any socket descriptor, TCP included; with the options
   * that make it peek without blocking.
   */
  private static final class Peek {
    static final MethodHandle RECEIVE;
    static final MethodHandle AVAILABLE;
    static final int OPTIONS;
    static final Throwable MISSING;

    static {
      MethodHandle receive = null;
      MethodHandle available = null;
      int options = 0;
      Throwable missing = null;
      try {
        Class<?> nativeSocket = nativeSocket();
        Class<?> ancillary = Class.forName("org.newsclub.net.unix.AncillaryDataSupport");
        Method m = nativeSocket.getDeclaredMethod("receive", FileDescriptor.class,
            ByteBuffer.class, int.class, int.class, ByteBuffer.class, int.class, ancillary,
            int.class);
        m.setAccessible(true);
        receive = MethodHandles.lookup().unreflect(m).asType(MethodType.methodType(int.class,
            FileDescriptor.class, ByteBuffer.class, int.class, int.class, ByteBuffer.class,
            int.class, Object.class, int.class));
        options = constant(nativeSocket, "OPT_PEEK") | constant(nativeSocket, "OPT_NON_BLOCKING");
        Method a = nativeSocket.getDeclaredMethod("available", FileDescriptor.class,
            ByteBuffer.class);
        a.setAccessible(true);
        available = MethodHandles.lookup().unreflect(a);
      } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
        missing = e;
        receive = null;
        available = null;
      }
      RECEIVE = receive;
      AVAILABLE = available;
      OPTIONS = options;
      MISSING = missing;
    }

    private static int constant(Class<?> c, String name) throws ReflectiveOperationException {
      Field f = c.getDeclaredField(name);
      f.setAccessible(true);
      return f.getInt(null);
    }
  }

  /**
   * Fails at start rather than at the first connection if this junixsocket cannot peek.
   *
   * @throws IllegalStateException naming what is missing
   */
  public static void requirePeek() {
    if (Peek.RECEIVE == null) {
      throw new IllegalStateException("cannot peek at connections: junixsocket's native receive"
          + " is missing (" + Peek.MISSING + ")", Peek.MISSING);
    }
  }

  /**
   * ioctl FIONREAD on a socket: how many bytes can be read now, without reading them.
   *
   * @param direct a direct buffer junixsocket may use as scratch on systems without FIONREAD
   */
  public static int available(FileDescriptor fd, ByteBuffer direct) throws IOException {
    requirePeek();
    try {
      return (int) Peek.AVAILABLE.invokeExact(fd, direct);
    } catch (IOException | RuntimeException | Error e) {
      throw e;
    } catch (Throwable e) {
      throw new IOException(e);
    }
  }

  /**
   * recv(2) with {@code MSG_PEEK | MSG_DONTWAIT}-like options: copies up to {@code max} bytes
   * into {@code direct} from index 0, leaving them in the socket.
   *
   * @return the bytes copied; 0 if none yet; -1 at the end of the stream
   */
  public static int peek(FileDescriptor fd, ByteBuffer direct, int max) throws IOException {
    requirePeek();
    try {
      return (int) Peek.RECEIVE.invokeExact(fd, direct, 0, max, (ByteBuffer) null, Peek.OPTIONS,
          (Object) null, 0);
    } catch (IOException | RuntimeException | Error e) {
      throw e;
    } catch (Throwable e) {
      throw new IOException(e);
    }
  }

  /**
   * getpeername(2) or getsockname(2) of a bare descriptor, without wrapping it in a socket object
   * (closing one of junixsocket's cast sockets shuts the connection down for every copy, and its
   * cleaner would close the descriptor): the plain handoffs a {@link dev.handoff.common.HandoffChannel} synthesizes a
   * header for carry no addresses of their own. junixsocket's package-private native returns the
   * raw {@code struct sockaddr}; the family is its first, host-order, 16-bit field.
   *
   * @return the address, or {@code null} if the descriptor is not an IPv4 or IPv6 socket, is not
   *     connected, or these internals are missing
   */
  public static InetSocketAddress socketAddress(FileDescriptor fd, boolean peer) {
    if (SOCKNAME == null || fd == null || !fd.valid()) {
      return null;
    }
    byte[] raw;
    try {
      raw = (byte[]) SOCKNAME.invoke(null, -1, fd, peer);
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
    if (raw == null || raw.length < 8) {
      return null;
    }
    int family = java.nio.ByteOrder.nativeOrder() == java.nio.ByteOrder.LITTLE_ENDIAN
        ? (raw[0] & 0xff) | (raw[1] & 0xff) << 8 : (raw[0] & 0xff) << 8 | (raw[1] & 0xff);
    int port = (raw[2] & 0xff) << 8 | (raw[3] & 0xff);
    try {
      if (family == AF_INET) {
        return new InetSocketAddress(InetAddress.getByAddress(Arrays.copyOfRange(raw, 4, 8)), port);
      }
      if (family == AF_INET6 && raw.length >= 24) {
        return new InetSocketAddress(InetAddress.getByAddress(Arrays.copyOfRange(raw, 8, 24)),
            port);
      }
    } catch (UnknownHostException e) {
      return null;
    }
    return null;
  }
}
