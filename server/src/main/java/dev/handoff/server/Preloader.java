package dev.handoff.server;

import dev.handoff.common.HandoffChannel;
import dev.handoff.common.internal.JdkNioInternals;
import dev.handoff.common.internal.JunixsocketInternals;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.DefaultChannelPipeline;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import java.util.List;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;

/**
 * What binding or taking over needs whatever the configuration, loaded and initialised ahead of
 * time ({@link HandoffServerBootstrap#preload()}): Netty's epoll transport with its native
 * library, junixsocket's native library, and the classes of the server channel, the links and a
 * take-over. Class initialisation is thread-safe, so whichever thread comes first does it and the
 * other one waits for it or finds it done; a failure is left to the bind or take-over that meets
 * it again and reports it.
 */
final class Preloader {
  /**
   * Classes initialised here, each the first of a tree of others it loads: the server channel and
   * its parts, the link to a predecessor, the JDK and junixsocket internals they reach, Netty's
   * bootstrap, pipeline, event loops, epoll channels and default buffer allocator.
   */
  static final List<Class<?>> CLASSES = List.of(
      HandoffServerChannel.class, HandoffServerChannelConfig.class, HandoffServer.class,
      ConnectionEngine.class, UnixListener.class, LinkPoller.class, LinkReader.class,
      HandedOffChannel.class, Successor.class, Handover.class, ServerStats.class,
      HandoffChannel.class, JdkNioInternals.class, JunixsocketInternals.class,
      AFUNIXSocketChannel.class, AFUNIXSocketAddress.class,
      ServerBootstrap.class, DefaultChannelPipeline.class, MultiThreadIoEventLoopGroup.class,
      EpollIoHandler.class, EpollSocketChannel.class, ByteBufUtil.class);

  private Preloader() {}

  static void preload() {
    try {
      Epoll.ensureAvailability();
      AFUNIXSocket.isSupported();
      for (Class<?> type : CLASSES) {
        Class.forName(type.getName(), true, type.getClassLoader());
      }
    } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
      // Reported where it matters: Epoll.ensureAvailability() and the classes' first use again.
    }
  }
}
