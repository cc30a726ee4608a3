package dev.handoff.server;

import dev.handoff.common.HandoffException;
import dev.handoff.common.HandoffException.Reason;
import dev.handoff.common.ReceivedHandoff;
import io.netty.channel.ChannelException;
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

  /**
   * The same check in one system call, getsockopt(TCP_INFO), for the epoll engine: returns the
   * socket as Netty's channels hold it (a view: the descriptor stays owned by the handoff until a
   * channel is built on it).
   *
   * @throws HandoffException {@link Reason#CLIENT_GONE} for a TCP socket that its client reset
   *     before it got here, {@link Reason#NOT_A_CONNECTED_STREAM_SOCKET} for anything that is not
   *     a connected TCP socket
   */
  static Socket requireConnectedTcpSocket(ReceivedHandoff handoff) throws HandoffException {
    Socket socket;
    try {
      socket = EpollChannels.socketOf(handoff.number());
    } catch (ChannelException e) { // Netty's probe of its family: not a socket at all
      requireConnectedTcp(handoff, EpollChannels.NOT_TCP);
      throw e; // not reached: the line above throws
    }
    requireConnectedTcp(handoff, EpollChannels.tcpState(socket));
    return socket;
  }

  private static void requireConnectedTcp(ReceivedHandoff handoff, int tcpState)
      throws HandoffException {
    String problem;
    Reason reason = Reason.NOT_A_CONNECTED_STREAM_SOCKET;
    switch (tcpState) {
      case EpollChannels.NOT_TCP -> problem = "not a TCP socket";
      case EpollChannels.LISTEN -> problem = "not connected: a listening socket";
      case EpollChannels.SYN_SENT, EpollChannels.SYN_RECV ->
          problem = "not connected: still connecting";
      case EpollChannels.CLOSE -> {
        problem = "not connected any more (the client went away)";
        reason = Reason.CLIENT_GONE;
      }
      default -> {
        return; // established, or closing after it was: served, its first read tells which
      }
    }
    throw new HandoffException(reason, handoff.header().connectionId(),
        handoff + " is not a connected TCP socket: " + problem);
  }
}
