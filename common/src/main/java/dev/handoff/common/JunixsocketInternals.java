package dev.handoff.common;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import org.newsclub.net.unix.AFSocket;
import org.newsclub.net.unix.AFUNIXSocketChannel;

/**
 * The one place that reaches into junixsocket's internals, and why.
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

  private JunixsocketInternals() {}

  /**
   * Gives the channel a control buffer that holds the largest SCM_RIGHTS message the kernel sends.
   *
   * @throws IllegalStateException if this junixsocket version no longer has the internals used
   */
  public static void setFullAncillaryReceiveBuffer(AFUNIXSocketChannel channel) {
    try {
      Method getImpl = AFSocket.class.getDeclaredMethod("getAFImpl");
      getImpl.setAccessible(true);
      Object impl = getImpl.invoke(channel.socket());
      Field support = Class.forName("org.newsclub.net.unix.AFSocketImpl")
          .getDeclaredField("ancillaryDataSupport");
      support.setAccessible(true);
      Object ancillary = support.get(impl);
      Method allocate = ancillary.getClass()
          .getDeclaredMethod("setAncillaryReceiveBufferSize0", int.class);
      allocate.setAccessible(true);
      allocate.invoke(ancillary, FULL_BUFFER);
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new IllegalStateException("junixsocket internals changed: cannot size the ancillary"
          + " receive buffer to " + FULL_BUFFER + " bytes", e);
    }
    if (channel.getAncillaryReceiveBufferSize() != FULL_BUFFER) {
      throw new IllegalStateException("junixsocket ignored the ancillary buffer size");
    }
  }
}
