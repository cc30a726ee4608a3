package io.netty.channel.epoll;

import io.netty.channel.ChannelException;
import io.netty.channel.unix.Socket;
import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * Builds the epoll channel of a handed-off connection the way Netty's own accept path builds the
 * channel of an accepted one: with its peer given, not asked of the kernel again. It sits in
 * Netty's package for the one constructor Netty keeps to itself ({@code
 * EpollSocketChannel(Channel, LinuxSocket, InetSocketAddress)}): no field is touched, no
 * reflection is used. The channel has no parent: an {@code EpollSocketChannel}'s parent must be
 * a TCP server socket channel, and a handed-off connection comes through a unix socket.
 *
 * <p>Not an API of the library: {@code dev.handoff.server} alone calls it.
 */
public final class HandedOffEpollChannels {
  private HandedOffEpollChannels() {}

  /** TCP_INFO's state of a socket that no TCP socket can be in: it is not a TCP socket. */
  public static final int NOT_TCP = -1;
  /** TCP_INFO's states (include/net/tcp_states.h) that tell an unusable socket. */
  public static final int SYN_SENT = 2;
  public static final int SYN_RECV = 3;
  public static final int CLOSE = 7;
  public static final int LISTEN = 10;

  /**
   * A view of the socket on descriptor {@code fd}, as Netty's channels hold it (Netty asks the
   * kernel its family once, with getsockname(2)). Closing the view closes the descriptor: until a
   * channel is built on it ({@link #childOf}), its owner closes the descriptor, not this.
   *
   * @throws io.netty.channel.ChannelException if the descriptor is not a socket
   */
  public static Socket socketOf(int fd) {
    return LinuxSocket.newSocket(fd);
  }

  /**
   * The TCP state of {@code socket} from one getsockopt(TCP_INFO) ({@code 1} established, {@link
   * #CLOSE} after a reset, {@link #LISTEN}, ...), or {@link #NOT_TCP} for any other descriptor:
   * another kind of socket, a pipe, a file.
   */
  public static int tcpState(Socket socket) {
    EpollTcpInfo info = new EpollTcpInfo();
    try {
      ((LinuxSocket) socket).getTcpInfo(info);
    } catch (IOException | ChannelException e) {
      return NOT_TCP; // EOPNOTSUPP, ENOPROTOOPT, ENOTSOCK: not a TCP socket
    }
    return info.state();
  }

  /**
   * A channel on {@code socket} (from {@link #socketOf}), active, reporting {@code remote} as its
   * remote address; Netty asks the kernel its local address (getsockname(2)).
   *
   * <p>Ownership: the channel owns the descriptor from here; closing it closes the descriptor.
   *
   * @param remote the client: the socket's peer, or the client a trusted load balancer named
   */
  public static EpollSocketChannel childOf(Socket socket, InetSocketAddress remote) {
    return new EpollSocketChannel(null, (LinuxSocket) socket, remote);
  }
}
