package dev.handoff.app;

import dev.handoff.common.HandoffException;
import dev.handoff.common.JdkNioInternals;
import dev.handoff.common.ReceivedHandoff;
import dev.handoff.common.HandoffHeader;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.util.AttributeKey;
import java.util.ArrayList;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.List;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.Channel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.concurrent.atomic.LongAdder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.ChannelMatchers;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves adopted connections on Netty's epoll transport: one epoll set per I/O thread, so each
 * readiness event costs O(1) however many connections are open. (A channel cast by junixsocket
 * cannot join a JDK selector, and junixsocket's own selector polls every registered descriptor on
 * each wake-up.)
 */
final class EchoEngine implements ConnectionSink, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EchoEngine.class);

  private final EventLoopGroup group;
  private final ChannelGroup live;
  private final WriteBufferWaterMark waterMark;
  private final LongAdder directAccepted = new LongAdder();
  private static final AttributeKey<Object> TRACKED = AttributeKey.valueOf("handoff.tracked");
  private static final Object NOT_HANDED_OFF = new Object();
  /** Handed-off connections being served, by what identifies them: see {@link ConnectionKey}. */
  private final Map<ConnectionKey, Channel> served = new ConcurrentHashMap<>();
  /** Connections open now; kept as a counter because it is read for every handoff. */
  private final AtomicInteger open = new AtomicInteger();
  private final LongAdder bytesEchoed;
  /** The header a connection arrived with, kept for handing it on to a successor. */
  static final AttributeKey<HandoffHeader> HEADER = AttributeKey.valueOf("handoff.header");

  EchoEngine(int ioThreads, int highWaterMark, LongAdder bytesEchoed) {
    this.bytesEchoed = bytesEchoed;
    Epoll.ensureAvailability();
    this.group = new MultiThreadIoEventLoopGroup(ioThreads, new DefaultThreadFactory("echo", true),
        EpollIoHandler.newFactory());
    this.live = new DefaultChannelGroup("live", GlobalEventExecutor.INSTANCE);
    this.waterMark = new WriteBufferWaterMark(highWaterMark / 2, highWaterMark);
  }

  @Override
  public boolean adopt(ReceivedHandoff handoff, Consumer<Throwable> whenRegistered)
      throws IOException {
    DescriptorCheck.requireConnectedTcp(handoff);
    HandoffHeader header = handoff.header();
    // O_NONBLOCK belongs to the open file, shared with every copy: the proxy may have left it off.
    JdkNioInternals.setBlocking(handoff.descriptor(), false);
    // Built before release(): if Netty refuses the descriptor, the handoff still closes it.
    EpollSocketChannel channel = new EpollSocketChannel(handoff.number());
    if (!channel.isActive()) {
      // Netty reads (and so clears) SO_ERROR here: a client that reset since the check above would
      // leave a channel that never becomes active, never reads and never closes.
      throw new HandoffException(HandoffException.Reason.CLIENT_GONE, header.connectionId(),
          handoff + " is not a connected TCP socket: reset by its client before it was served");
    }
    ConnectionKey key = ConnectionKey.of(header);
    if (served.putIfAbsent(key, channel) != null) {
      return false;
    }
    handoff.release();
    try {
      channel.config()
          .setAllowHalfClosure(true)
          .setTcpNoDelay(true)
          .setWriteBufferWaterMark(waterMark);
      channel.pipeline().addLast(new EchoHandler(header.connectionId(), bytesEchoed));
      channel.attr(HEADER).set(header);
    } catch (RuntimeException e) {
      served.remove(key);
      channel.unsafe().closeForcibly(); // the channel owns the descriptor now
      throw new IOException("set up " + handoff + ": " + e.getMessage(), e);
    }
    byte[] pending = handoff.pending();
    if (pending.length > 0) {
      // A migrated connection: what its previous app read and had not echoed goes out first.
      channel.config().setAutoRead(false);
    }
    track(channel, key);
    group.register(channel).addListener(f -> {
      if (!f.isSuccess()) {
        untrack(channel);
        channel.unsafe().closeForcibly();
      } else if (pending.length > 0) {
        channel.writeAndFlush(Unpooled.wrappedBuffer(pending), channel.voidPromise());
        if (channel.isWritable()) {
          channel.config().setAutoRead(true);
        } // else EchoHandler resumes reading once the client has taken the bytes
      }
      whenRegistered.accept(f.cause());
    });
    return true;
  }

  /**
   * One TCP connection, whichever descriptor and link it arrives on: a proxy that sends the same
   * connection twice is caught by it. Connection ids are not enough: they are unique per proxy run
   * only, and a successor renumbers migrated connections.
   */
  private record ConnectionKey(InetSocketAddress client, InetSocketAddress local,
      long acceptedAtMicros) {
    static ConnectionKey of(HandoffHeader header) {
      return new ConnectionKey(header.client(), header.local(), header.acceptedAtMicros());
    }
  }

  /** The connections being served now (not the direct listener). */
  List<EpollSocketChannel> connections() {
    List<EpollSocketChannel> all = new ArrayList<>();
    for (Channel c : live) {
      if (c instanceof EpollSocketChannel ch && ch.isOpen()) {
        all.add(ch);
      }
    }
    return all;
  }

  /** Serves a connection again after a migration of it failed. */
  void resume(EpollSocketChannel channel) {
    group.register(channel).addListener(f -> {
      if (f.isSuccess()) {
        channel.config().setAutoRead(true);
      } else {
        channel.unsafe().closeForcibly();
      }
    });
  }

  /**
   * Also accepts TCP connections on {@code port} itself and serves them the same way: the
   * "direct" baseline that benchmarks compare the handoff with.
   */
  void listenDirect(int port) throws IOException {
    ServerBootstrap bootstrap = new ServerBootstrap()
        .group(group)
        .channel(EpollServerSocketChannel.class)
        .option(ChannelOption.SO_BACKLOG, 1024)
        .option(ChannelOption.SO_REUSEADDR, true)
        .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            directAccepted.increment();
            track(ch, null);
            ch.pipeline().addLast(new EchoHandler(-directAccepted.sum(), bytesEchoed));
          }
        });
    ChannelFuture bound = bootstrap.bind(new InetSocketAddress(port)).awaitUninterruptibly();
    if (!bound.isSuccess()) {
      throw new IOException("listen on TCP port " + port + ": " + bound.cause().getMessage(),
          bound.cause());
    }
    live.add(bound.channel());
    log.info("also accepting TCP directly on {}", bound.channel().localAddress());
  }

  /** Connections accepted by {@link #listenDirect}, not handed off. */
  long directAccepted() {
    return directAccepted.sum();
  }

  /** Stops accepting direct TCP connections; the connections themselves go on. */
  void stopAccepting() {
    live.close(ChannelMatchers.isServerChannel()).awaitUninterruptibly(5, TimeUnit.SECONDS);
  }

  @Override
  public int liveConnections() {
    return open.get();
  }

  /** Counts the channel as open until {@link #untrack}; {@code key} null if not handed off. */
  private void track(Channel channel, ConnectionKey key) {
    channel.attr(TRACKED).set(key == null ? NOT_HANDED_OFF : key);
    open.incrementAndGet();
    channel.closeFuture().addListener(f -> untrack(channel));
    live.add(channel);
  }

  /** Undoes {@link #track}; once per channel, whether it closed or never got registered. */
  private void untrack(Channel channel) {
    Object key = channel.attr(TRACKED).getAndSet(null);
    if (key != null) {
      served.remove(key, channel);
      live.remove(channel);
      open.decrementAndGet();
    }
  }

  /** Waits until every connection closed by itself or the timeout passed; returns the live count. */
  int awaitIdle(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (liveConnections() > 0 && System.nanoTime() - deadline < 0) {
      TimeUnit.MILLISECONDS.sleep(20);
    }
    return liveConnections();
  }

  /** Closes every connection still open and stops the I/O threads. */
  @Override
  public void close() {
    live.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
  }
}
