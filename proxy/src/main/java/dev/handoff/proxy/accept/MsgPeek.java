package dev.handoff.proxy.accept;

import dev.handoff.common.internal.JunixsocketInternals;
import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * recv(2) with {@code MSG_PEEK} on a TCP socket's descriptor: copies what the client sent so far
 * without taking it from the socket, so that the app that gets the socket later reads every byte.
 * The JDK has no peek; junixsocket's native receive does one, reached through
 * {@link JunixsocketInternals}; the caller keeps owning the descriptor.
 *
 * <p>The descriptor must be in non-blocking mode (a JDK channel registered with a selector is),
 * or have bytes to read ({@link #available}): the native call passes no {@code MSG_DONTWAIT}.
 */
public final class MsgPeek {
  private MsgPeek() {}

  /**
   * Fails at start rather than at the first connection if this junixsocket cannot peek.
   *
   * @throws IllegalStateException naming what is missing
   */
  public static void requireAvailable() {
    JunixsocketInternals.requirePeek();
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
    return JunixsocketInternals.available(fd, direct);
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
    if (!direct.isDirect() || direct.capacity() < max) {
      throw new IllegalArgumentException("need a direct buffer of at least " + max + " bytes");
    }
    return JunixsocketInternals.peek(fd, direct, max);
  }
}
