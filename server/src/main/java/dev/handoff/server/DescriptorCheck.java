package dev.handoff.server;

import dev.handoff.common.HandoffException;
import dev.handoff.common.HandoffException.Reason;
import dev.handoff.common.ReceivedHandoff;
import io.netty.channel.unix.Socket;
import java.io.IOException;
import java.net.ProtocolFamily;
import java.net.StandardProtocolFamily;

/** Refuses a descriptor that is not a connected TCP socket before the echo engine touches it. */
final class DescriptorCheck {
  private static final int SOL_SOCKET = 1;
  private static final int SO_TYPE = 3;
  private static final int SO_DOMAIN = 39;
  private static final int SO_ACCEPTCONN = 30;
  private static final int SOCK_STREAM = 1;
  private static final int AF_INET = 2;
  private static final int AF_INET6 = 10;

  private DescriptorCheck() {}

  /**
   * Checks with getsockopt and getpeername; the descriptor stays owned by the handoff.
   *
   * @throws HandoffException {@link Reason#CLIENT_GONE} for a TCP socket that is no longer
   *     connected (its client reset or closed it before it got here: ordinary), {@link
   *     Reason#NOT_A_CONNECTED_STREAM_SOCKET} for anything else that is not a connected TCP socket
   * @return the socket's address family
   */
  static ProtocolFamily requireConnectedTcp(ReceivedHandoff handoff) throws HandoffException {
    return check(handoff, true);
  }

  /**
   * The part of {@link #requireConnectedTcp} that a caller who learns by itself whether the socket
   * has a peer still needs: a stream socket of TCP's families (two getsockopt calls). A caller
   * whose socket then shows no peer calls {@link #requireConnectedTcp} for the reason why.
   *
   * @throws HandoffException {@link Reason#NOT_A_CONNECTED_STREAM_SOCKET} for anything else
   */
  static void requireTcpStream(ReceivedHandoff handoff) throws HandoffException {
    check(handoff, false);
  }

  private static ProtocolFamily check(ReceivedHandoff handoff, boolean connected)
      throws HandoffException {
    String problem;
    Reason reason = Reason.NOT_A_CONNECTED_STREAM_SOCKET;
    try {
      // Only a view of the descriptor: it is never closed through this object.
      Socket view = new Socket(handoff.number());
      int type = view.getIntOpt(SOL_SOCKET, SO_TYPE);
      int domain = view.getIntOpt(SOL_SOCKET, SO_DOMAIN);
      if (type != SOCK_STREAM) {
        problem = "socket type " + type + ", not a stream socket";
      } else if (domain != AF_INET && domain != AF_INET6) {
        problem = "address family " + domain + ", not TCP over IPv4 or IPv6";
      } else if (!connected) {
        return domain == AF_INET6 ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET;
      } else if (view.getIntOpt(SOL_SOCKET, SO_ACCEPTCONN) != 0) {
        problem = "not connected: a listening socket";
      } else if (view.remoteAddress() == null) {
        problem = "not connected any more (the client went away)";
        reason = Reason.CLIENT_GONE;
      } else {
        return domain == AF_INET6 ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET;
      }
    } catch (IOException | RuntimeException e) {
      problem = e.getMessage();
    }
    throw new HandoffException(reason, handoff.header().connectionId(),
        handoff + " is not a connected TCP socket: " + problem);
  }
}
