package dev.handoff.server;

import dev.handoff.common.HandoffLink;
import dev.handoff.common.internal.JdkNioInternals;
import io.netty.channel.AbstractServerChannel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoEventLoop;
import io.netty.channel.epoll.Epoll;
import java.net.SocketAddress;
import java.nio.file.Path;
import java.util.concurrent.CompletionStage;

/**
 * A Netty server channel whose children are the TCP connections that proxies hand over on a unix
 * socket, as an {@code EpollServerSocketChannel}'s children are the connections it accepts. Use it
 * with Netty's own {@code ServerBootstrap}:
 *
 * <pre>{@code
 * EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
 * EventLoopGroup workers = new MultiThreadIoEventLoopGroup(EpollIoHandler.newFactory());
 * Channel server = new ServerBootstrap()
 *     .group(boss, workers)
 *     .channel(HandoffServerChannel.class)
 *     .option(HandoffChannelOption.MAX_CONNECTIONS, 10_000)
 *     .childHandler(new ChannelInitializer<Channel>() {
 *       protected void initChannel(Channel ch) {
 *         ch.pipeline().addLast(new MyHandler());
 *       }
 *     })
 *     .bind(new HandoffAddress(Path.of("/run/my.sock"))).sync().channel();
 * }</pre>
 *
 * <p>Each child is an epoll socket channel on the descriptor the proxy sent, with its {@link
 * Handoff} facts as the {@link Handoff#ATTRIBUTE} attribute (set before the child handler runs),
 * the child options and attributes of the bootstrap applied, and registered on the child group.
 * Both groups must be epoll groups: the server channel reads the proxies' links on its own event
 * loop (registering it on another transport's fails), and the children are epoll channels (with a
 * child group of another transport, each handoff is answered RETRY and the proxy keeps it). The bind fails at once without epoll or without the
 * JDK flags the library needs ({@code --add-exports java.base/sun.nio.ch=ALL-UNNAMED}).
 *
 * <p>The handoff is acknowledged (ADOPTED) once the child is registered on its event loop; beyond
 * {@link HandoffChannelOption#MAX_CONNECTIONS} the proxy is answered RETRY and keeps the
 * connection. Closing this channel stops taking handoffs (the socket file goes, proxies are told
 * to send elsewhere) and leaves its children open, as closing a server socket does; shutting the
 * child group down closes them.
 *
 * <p>With {@link HandoffChannelOption#TAKE_OVER} the bind takes over from the app serving the
 * path (see {@link HandoffServerBootstrap#takeOver}); that app's channel then completes {@link
 * #handedOver()}.
 */
public final class HandoffServerChannel extends AbstractServerChannel {
  private final HandoffServerChannelConfig config = new HandoffServerChannelConfig(this);
  /** The group {@link HandoffServerBootstrap} made for this channel, stopped on close; or null. */
  private final EventLoopGroup ownedGroup;
  private volatile HandoffAddress local;
  private volatile HandoffServer server;
  private volatile boolean open = true;

  /** A channel to be registered on an epoll event loop and bound to a {@link HandoffAddress}. */
  public HandoffServerChannel() {
    this(null);
  }

  HandoffServerChannel(EventLoopGroup ownedGroup) {
    NettyVersion.require();
    this.ownedGroup = ownedGroup;
  }

  @Override
  public ChannelConfig config() {
    return config;
  }

  @Override
  public boolean isOpen() {
    return open;
  }

  @Override
  public boolean isActive() {
    return open && server != null;
  }

  @Override
  public HandoffAddress localAddress() {
    return (HandoffAddress) super.localAddress();
  }

  @Override
  protected SocketAddress localAddress0() {
    return local;
  }

  @Override
  protected boolean isCompatible(EventLoop loop) {
    return loop instanceof IoEventLoop io && io.isCompatible(LinkPoller.class);
  }

  @Override
  protected void doBind(SocketAddress address) throws Exception {
    if (!(address instanceof HandoffAddress handoff)) {
      throw new IllegalArgumentException("a HandoffServerChannel binds a HandoffAddress (a unix"
          + " socket path), not " + address);
    }
    JdkNioInternals.requireAvailable();
    EpollChannels.require();
    Epoll.ensureAvailability();
    Path socket = handoff.path();
    Successor.Predecessor predecessor = config.takeOver()
        ? Successor.requestTakeOver(socket, config.takeOverTimeout()) : null;
    HandoffServer started = new HandoffServer(config.serverConfig(socket),
        new ConnectionEngine(this, ownedGroup));
    started.start(predecessor);
    local = handoff;
    server = started;
  }

  @Override
  protected void doBeginRead() {
    // Links are read as they become readable; there is nothing to start.
  }

  /**
   * Stops taking handoffs without blocking the event loop: waiting for the links to be answered
   * and to end needs this loop, which reads them.
   */
  @Override
  protected void doClose() {
    open = false;
    HandoffServer running = server;
    if (running != null && running.takingHandoffs()) {
      Thread stop = new Thread(() -> {
        try {
          running.stopTakingHandoffs();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }, "handoff-stop");
      stop.setDaemon(true);
      stop.start();
    }
  }

  /**
   * Completes once a successor has taken over (every connection that could move has moved, and
   * the socket path is the successor's); completes exceptionally if the listening socket was
   * closed under this channel. The process should then let its remaining connections finish (for
   * HTTP/2 or gRPC: a graceful shutdown, which sends GOAWAY) and close this channel.
   *
   * @throws IllegalStateException before the channel is bound
   */
  public CompletionStage<Void> handedOver() {
    return server().handedOver();
  }

  /** Handed-off connections being served now (children not yet closed). */
  public int liveConnections() {
    HandoffServer running = server;
    return running == null ? 0 : running.liveConnections();
  }

  /** The server behind this channel, once bound. */
  HandoffServer server() {
    HandoffServer running = server;
    if (running == null) {
      throw new IllegalStateException("not bound");
    }
    return running;
  }
}
