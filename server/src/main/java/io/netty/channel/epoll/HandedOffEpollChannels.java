package io.netty.channel.epoll;

import io.netty.channel.Channel;
import java.net.InetSocketAddress;

/**
 * Builds the epoll channel of a handed-off connection the way Netty's own accept path builds the
 * channel of an accepted one: with its server channel as parent and its peer given, not asked of
 * the kernel again. It sits in Netty's package for the one constructor Netty keeps to itself
 * ({@code EpollSocketChannel(Channel, LinuxSocket, InetSocketAddress)}): no field is touched, no
 * reflection is used.
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
   * @param parent the server channel the connection came through
   * @param remote the client: the socket's peer, or the client a trusted load balancer named
   */
  public static EpollSocketChannel childOf(Channel parent, int fd, InetSocketAddress remote) {
    return new EpollSocketChannel(parent, LinuxSocket.newSocket(fd), remote);
  }
}
