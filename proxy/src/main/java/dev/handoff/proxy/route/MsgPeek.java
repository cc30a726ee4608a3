package dev.handoff.proxy.route;

import java.io.FileDescriptor;
import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;

/**
 * recv(2) with {@code MSG_PEEK} on a TCP socket's descriptor: copies what the client sent so far
 * without taking it from the socket, so that the app that gets the socket later reads every byte.
 * The JDK has no peek; junixsocket's package-private native {@code NativeUnixSocket.receive} does
 * a plain {@code recv(fd, buf, len, MSG_PEEK)} when given no address and no ancillary buffer,
 * and works on any socket descriptor, TCP included. It is reached by reflection, like
 * {@code dev.handoff.common.JunixsocketInternals}; the caller keeps owning the descriptor.
 *
 * <p>The descriptor must be in non-blocking mode (a JDK channel registered with a selector is),
 * or have bytes to read ({@link #available}): the native call passes no {@code MSG_DONTWAIT}.
 */
public final class MsgPeek {
  private static final MethodHandle RECEIVE;
  private static final MethodHandle AVAILABLE;
  private static final int OPTIONS;
  private static final Throwable MISSING;

  static {
    MethodHandle receive = null;
    MethodHandle available = null;
    int options = 0;
    Throwable missing = null;
    try {
      Class<?> nativeSocket = Class.forName("org.newsclub.net.unix.NativeUnixSocket");
      Method ensure = nativeSocket.getDeclaredMethod("ensureSupported");
      ensure.setAccessible(true);
      ensure.invoke(null);
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

  private MsgPeek() {}

  private static int constant(Class<?> c, String name) throws ReflectiveOperationException {
    Field f = c.getDeclaredField(name);
    f.setAccessible(true);
    return f.getInt(null);
  }

  /**
   * Fails at start rather than at the first connection if this junixsocket cannot peek.
   *
   * @throws IllegalStateException naming what is missing
   */
  public static void requireAvailable() {
    if (RECEIVE == null) {
      throw new IllegalStateException("cannot peek at connections: junixsocket's native receive"
          + " is missing (" + MISSING + ")", MISSING);
    }
  }

  /**
   * How many bytes the client sent that can be read now (ioctl FIONREAD), without reading them;
   * works whether the descriptor blocks or not.
   *
   * @param fd a connected TCP socket, still owned by the caller
   * @param direct a direct buffer junixsocket may use as scratch on systems without FIONREAD
   * @return the byte count, 0 if none
   * @throws IOException if the descriptor is closed or broken
   */
  public static int available(FileDescriptor fd, ByteBuffer direct) throws IOException {
    requireAvailable();
    try {
      return (int) AVAILABLE.invokeExact(fd, direct);
    } catch (IOException | RuntimeException | Error e) {
      throw e;
    } catch (Throwable e) {
      throw new IOException(e);
    }
  }

  /**
   * Copies up to {@code max} bytes the client sent, from the start of its stream, into
   * {@code direct} from index 0, leaving them in the socket.
   *
   * @param fd a connected TCP socket in non-blocking mode, still owned by the caller
   * @param direct a direct buffer of at least {@code max} bytes; position and limit untouched
   * @return the number of bytes copied; 0 if the client has sent nothing yet; -1 if it closed its
   *     end (end of stream) without anything left to read
   * @throws IOException if the connection was reset or the descriptor is closed
   */
  public static int peek(FileDescriptor fd, ByteBuffer direct, int max) throws IOException {
    requireAvailable();
    if (!direct.isDirect() || direct.capacity() < max) {
      throw new IllegalArgumentException("need a direct buffer of at least " + max + " bytes");
    }
    try {
      return (int) RECEIVE.invokeExact(fd, direct, 0, max, (ByteBuffer) null, OPTIONS,
          (Object) null, 0);
    } catch (IOException | RuntimeException | Error e) {
      throw e;
    } catch (Throwable e) {
      throw new IOException(e);
    }
  }
}
