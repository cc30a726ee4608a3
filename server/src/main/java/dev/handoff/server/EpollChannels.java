package dev.handoff.server;

import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.epoll.EpollTcpInfo;
import io.netty.channel.unix.Socket;
import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.net.InetSocketAddress;

/**
 * Builds the epoll channel of a handed-off connection the way Netty's own accept path builds the
 * channel of an accepted one: with its peer given, not asked of the kernel again. Netty keeps the
 * constructor it uses for that ({@code EpollSocketChannel(Channel, LinuxSocket,
 * InetSocketAddress)}) and its socket type {@code LinuxSocket} to its package; they are reached
 * through method handles looked up once, with Netty's package as the lookup's home (no field is
 * touched). On the class path that needs nothing; on the module path, {@code --add-opens
 * io.netty.transport.classes.epoll/io.netty.channel.epoll=dev.handoff.server} ({@link #require}
 * says so at bind). The channel has no parent: an {@code EpollSocketChannel}'s parent must be a
 * TCP server socket channel, and a handed-off connection comes through a unix socket.
 */
final class EpollChannels {
  /** TCP_INFO's state of a socket that no TCP socket can be in: it is not a TCP socket. */
  static final int NOT_TCP = -1;
  /** TCP_INFO's states (include/net/tcp_states.h) that tell an unusable socket. */
  static final int SYN_SENT = 2;
  static final int SYN_RECV = 3;
  static final int CLOSE = 7;
  static final int LISTEN = 10;

  static final String OPENS =
      "--add-opens io.netty.transport.classes.epoll/io.netty.channel.epoll=dev.handoff.server";

  /** {@code LinuxSocket.newSocket(int)}, as (int)Socket. */
  private static final MethodHandle NEW_SOCKET;
  /** {@code LinuxSocket.getTcpInfo(EpollTcpInfo)}, as (Socket, EpollTcpInfo)void. */
  private static final MethodHandle GET_TCP_INFO;
  /** {@code new EpollSocketChannel(Channel, LinuxSocket, InetSocketAddress)}. */
  private static final MethodHandle NEW_CHILD;
  /** Why the handles could not be made, or null. */
  private static final String UNAVAILABLE;

  static {
    MethodHandle newSocket = null;
    MethodHandle getTcpInfo = null;
    MethodHandle newChild = null;
    String unavailable = null;
    try {
      MethodHandles.Lookup netty = MethodHandles.privateLookupIn(EpollSocketChannel.class,
          MethodHandles.lookup());
      Class<?> linuxSocket = netty.findClass("io.netty.channel.epoll.LinuxSocket");
      newSocket = netty.findStatic(linuxSocket, "newSocket", MethodType.methodType(linuxSocket,
          int.class)).asType(MethodType.methodType(Socket.class, int.class));
      getTcpInfo = netty.findVirtual(linuxSocket, "getTcpInfo", MethodType.methodType(void.class,
          EpollTcpInfo.class)).asType(MethodType.methodType(void.class, Socket.class,
          EpollTcpInfo.class));
      newChild = netty.findConstructor(EpollSocketChannel.class, MethodType.methodType(void.class,
          Channel.class, linuxSocket, InetSocketAddress.class)).asType(MethodType.methodType(
          EpollSocketChannel.class, Channel.class, Socket.class, InetSocketAddress.class));
    } catch (IllegalAccessException e) {
      unavailable = "Netty's epoll package is not open to this library (on the module path, run"
          + " the JVM with " + OPENS + "): " + e.getMessage();
    } catch (ReflectiveOperationException | LinkageError e) {
      unavailable = "this Netty's epoll transport lacks what the library builds channels with"
          + " (it needs Netty 4.2): " + e;
    }
    NEW_SOCKET = newSocket;
    GET_TCP_INFO = getTcpInfo;
    NEW_CHILD = newChild;
    UNAVAILABLE = unavailable;
  }

  private EpollChannels() {}

  /**
   * Throws if channels cannot be built here, saying what the JVM needs.
   *
   * @throws IllegalStateException with the JVM option to add
   */
  static void require() {
    if (UNAVAILABLE != null) {
      throw new IllegalStateException(UNAVAILABLE);
    }
  }

  /**
   * A view of the socket on descriptor {@code fd}, as Netty's channels hold it (Netty asks the
   * kernel its family once, with getsockname(2)). Closing the view closes the descriptor: until a
   * channel is built on it ({@link #childOf}), its owner closes the descriptor, not this.
   *
   * @throws ChannelException if the descriptor is not a socket
   */
  static Socket socketOf(int fd) {
    require();
    try {
      return (Socket) NEW_SOCKET.invokeExact(fd);
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable e) {
      throw new ChannelException(e);
    }
  }

  /**
   * The TCP state of {@code socket} from one getsockopt(TCP_INFO) ({@code 1} established, {@link
   * #CLOSE} after a reset, {@link #LISTEN}, ...), or {@link #NOT_TCP} for any other descriptor:
   * another kind of socket, a pipe, a file.
   */
  static int tcpState(Socket socket) {
    EpollTcpInfo info = new EpollTcpInfo();
    try {
      GET_TCP_INFO.invokeExact(socket, info);
    } catch (IOException | ChannelException e) {
      return NOT_TCP; // EOPNOTSUPP, ENOPROTOOPT, ENOTSOCK: not a TCP socket
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable e) {
      throw new ChannelException(e);
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
  static EpollSocketChannel childOf(Socket socket, InetSocketAddress remote) {
    try {
      return (EpollSocketChannel) NEW_CHILD.invokeExact((Channel) null, socket, remote);
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable e) {
      throw new ChannelException(e);
    }
  }
}
