package dev.handoff.proxy.link;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.HandoffHeader;
import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.file.Path;

/**
 * What an {@link AppLink} needs of one connected link: a {@link ChannelTransport} over a
 * {@link dev.handoff.common.HandoffChannel} in production, a fake in tests. One thread sends while
 * another receives; {@link #close} may come from any thread, also during a send or a receive.
 */
interface Transport {
  /**
   * Sends one handoff message (header plus descriptor) whole. When it throws, the message was not
   * written, unless the link was closed during the call, after which nothing is certain.
   */
  void send(HandoffHeader header, FileDescriptor fd) throws IOException;

  /**
   * The next acknowledgement; {@code null} when the app closed the link between messages. A
   * {@link dev.handoff.common.HandoffException} that is
   * {@link dev.handoff.common.HandoffException.Reason#resynchronisable() resynchronisable} leaves
   * the stream at the next message.
   */
  Acknowledgement receiveAck() throws IOException;

  /** Sends no more; the app reads what was sent, then the end of the stream. */
  void shutdownOutput() throws IOException;

  /** Closes the link; idempotent, never fails. Wakes a blocked receive or send. */
  void close();

  /**
   * Whether this side is still open: false once the proxy closed it, including a close by the JDK
   * because a thread blocked on it was interrupted. The app closing its end does not change it.
   */
  boolean isOpen();

  /** How log lines name the app at the other end (pid and uid). */
  String peer();

  /** Makes links: connects to an app socket and checks who listens there. */
  interface Connector {
    Transport connect(Path socket) throws IOException;
  }

  /** The app at the socket runs as a uid the proxy does not hand connections to. */
  final class RefusedPeerException extends IOException {
    private static final long serialVersionUID = 1L;

    RefusedPeerException(String message) {
      super(message);
    }
  }
}
