package io.netty.channel.epoll;

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

  /**
   * The peer of the socket on descriptor {@code fd} (getpeername(2)), or {@code null} if it has
   * none: a listening socket, an unconnected one, or a client gone.
   */
  public static InetSocketAddress peerOf(int fd) {
    return LinuxSocket.newSocket(fd).remoteAddress();
  }

  /**
   * A channel on descriptor {@code fd}, active, reporting {@code remote} as its remote address.
   *
   * <p>Ownership: the channel owns {@code fd} from here; closing it closes the descriptor.
   *
   * @param remote the client: the socket's peer, or the client a trusted load balancer named
   */
  public static EpollSocketChannel childOf(int fd, InetSocketAddress remote) {
    return new EpollSocketChannel(null, LinuxSocket.newSocket(fd), remote);
  }
}
