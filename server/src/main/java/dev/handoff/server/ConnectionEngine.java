package dev.handoff.server;

import dev.handoff.common.HandoffException;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.internal.JdkNioInternals;
import dev.handoff.common.ReceivedHandoff;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoEventLoop;
import io.netty.channel.epoll.EpollSocketChannel;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import dev.handoff.server.ConnectionDetacher.Detached;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves adopted connections on Netty's epoll transport, each with the user's child handler: one
 * epoll set per I/O thread, so each readiness event costs O(1) however many connections are open.
 * (A channel cast by junixsocket cannot join a JDK selector, and junixsocket's own selector polls
 * every registered descriptor on each wake-up.)
 *
 * <p>What it keeps per connection is kept small, because an app may hold tens of thousands: the
 * channel's one attribute is its {@link Handoff}, whose addresses are the channel's own objects
 * wherever they are equal (the header's copies are dropped), and one map entry, keyed by a
 * {@link Served} that is also the channel's close listener. The header a successor needs is
 * rebuilt from the {@link Handoff} when the connection moves.
 */
final class ConnectionEngine implements Engine {
  private static final Logger log = LoggerFactory.getLogger(ConnectionEngine.class);
  private final EventLoopGroup group;
  private final boolean ownsGroup;
  private final ChannelHandler childHandler;
  private final Map<ChannelOption<?>, Object> childOptions;
  private final boolean autoRead;
  /**
   * Handed-off connections being served, by what identifies them (see {@link Served}): caught
   * duplicates, and the connections to detach or close; an entry leaves when its channel closes.
   */
  private final Map<Served, EpollSocketChannel> served = new ConcurrentHashMap<>();
  /** Connections open now; kept as a counter because it is read for every handoff. */
  private final AtomicInteger open = new AtomicInteger();

  ConnectionEngine(EventLoopGroup group, boolean ownsGroup, ChannelHandler childHandler,
      Map<ChannelOption<?>, Object> childOptions) {
    this.group = group;
    this.ownsGroup = ownsGroup;
    this.childHandler = childHandler;
    this.childOptions = Map.copyOf(childOptions);
    Object configured = childOptions.get(ChannelOption.AUTO_READ);
    this.autoRead = configured == null || (Boolean) configured;
  }

  @Override
  public boolean adopt(ReceivedHandoff handoff, Consumer<Throwable> whenRegistered)
      throws IOException {
    DescriptorCheck.requireTcpStream(handoff);
    HandoffHeader header = handoff.header();
    // Built before release(): if Netty refuses the descriptor, the handoff still closes it. Its
    // constructor reads the socket's error, name and peer (without changing the socket), so that
    // the peer is not asked twice: no peer means a listening socket or a client gone, which the
    // full check tells apart, before anything is changed on the socket.
    EpollSocketChannel channel = new EpollSocketChannel(handoff.number());
    // Asked through unsafe(): Channel.remoteAddress() would cache the answer, and a load
    // balancer's client (reportRemote, below) could then no longer replace it.
    InetSocketAddress peer = (InetSocketAddress) channel.unsafe().remoteAddress();
    if (peer == null) {
      DescriptorCheck.requireConnectedTcp(handoff);
      throw new HandoffException(HandoffException.Reason.CLIENT_GONE, header.connectionId(),
          handoff + " is not a connected TCP socket: it has no peer");
    }
    // O_NONBLOCK belongs to the open file, shared with every copy: the proxy may have left it off.
    JdkNioInternals.setBlocking(handoff.descriptor(), false);
    if (!channel.isActive()) {
      // Netty reads (and so clears) SO_ERROR here: a client that reset since the check above would
      // leave a channel that never becomes active, never reads and never closes.
      throw new HandoffException(HandoffException.Reason.CLIENT_GONE, header.connectionId(),
          handoff + " is not a connected TCP socket: reset by its client before it was served");
    }
    Handoff facts = Handoff.of(header,
        sameOrOwn(header.client(), peer),
        sameOrOwn(header.local(), (InetSocketAddress) channel.unsafe().localAddress()));
    Served key = new Served(facts);
    if (served.putIfAbsent(key, channel) != null) {
      return false;
    }
    handoff.release();
    byte[] pending = handoff.pending();
    byte[] state = handoff.state();
    boolean migrated = header.kind() == HandoffHeader.Kind.MIGRATED;
    try {
      applyChildOptions(channel);
      if (migrated) {
        // Nothing is read before the moved state is in and the moved bytes are out.
        channel.config().setAutoRead(false);
      }
      if (facts.proxiedBy() != null) {
        reportRemote(channel, facts.client());
      }
      channel.attr(Handoff.ATTRIBUTE).set(facts);
      channel.pipeline().addLast(childHandler);
    } catch (RuntimeException e) {
      served.remove(key);
      channel.unsafe().closeForcibly(); // the channel owns the descriptor now
      throw new IOException("set up " + handoff + ": " + e.getMessage(), e);
    }
    track(channel, key);
    group.register(channel).addListener(f -> {
      if (!f.isSuccess()) {
        untrack(channel, key);
        channel.unsafe().closeForcibly();
      } else if (migrated) {
        resumeMigrated(channel, pending, state);
      }
      whenRegistered.accept(f.cause());
    });
    return true;
  }

  /**
   * A migrated connection, registered and its pipeline built: hands each handler its state, then
   * writes what the previous app had not sent, ahead of anything else, and reads once that is out.
   */
  private void resumeMigrated(EpollSocketChannel channel, byte[] pending, byte[] state) {
    try {
      MigratedState.importInto(channel.pipeline(), state);
    } catch (RuntimeException e) {
      log.warn("{}: importing its handlers' state failed; closing it: {}", Handoff.of(channel),
          e.toString());
      channel.close();
      return;
    }
    if (pending.length == 0) {
      channel.config().setAutoRead(autoRead);
      return;
    }
    // From the head: these bytes were already through the old app's pipeline.
    channel.pipeline().firstContext().writeAndFlush(Unpooled.wrappedBuffer(pending))
        .addListener(written -> {
          if (written.isSuccess()) {
            channel.config().setAutoRead(autoRead);
          }
        });
  }

  /** Netty's cached peer address, set once by the channel's constructor from getpeername(2). */
  private static final java.lang.reflect.Field REMOTE = remoteField();
  private static volatile boolean remoteWarned;

  private static java.lang.reflect.Field remoteField() {
    try {
      java.lang.reflect.Field f = Class.forName("io.netty.channel.epoll.AbstractEpollChannel")
          .getDeclaredField("remote");
      f.setAccessible(true);
      return f;
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
  }

  /**
   * Makes {@code remoteAddress()} report the client a load balancer spoke for rather than the
   * balancer. Netty offers no public way to give an adopted channel its peer, so this sets the
   * epoll channel's private field before anything read it; if a Netty version lacks it, the
   * channel reports the balancer and {@link Handoff#client()} still has the client.
   */
  private static void reportRemote(EpollSocketChannel channel, InetSocketAddress client) {
    try {
      if (REMOTE != null) {
        REMOTE.set(channel, client);
        if (client.equals(channel.remoteAddress())) {
          return;
        }
      }
    } catch (ReflectiveOperationException | RuntimeException e) {
      // as below
    }
    if (!remoteWarned) {
      remoteWarned = true;
      log.warn("this Netty version does not let the library set a channel's remote address:"
          + " remoteAddress() is the load balancer's; Handoff.client() is the original client");
    }
  }

  @SuppressWarnings("unchecked")
  private void applyChildOptions(Channel channel) {
    for (Map.Entry<ChannelOption<?>, Object> option : childOptions.entrySet()) {
      if (!channel.config().setOption((ChannelOption<Object>) option.getKey(), option.getValue())) {
        log.warn("child option {} is not supported by an epoll socket channel; ignored",
            option.getKey());
      }
    }
  }

  /**
   * {@code own} if it is the same address and port as the header's {@code sent} (and, for IPv6,
   * the same scope, which the header never carries), so that the connection's facts share the
   * channel's object instead of keeping a copy; else {@code sent}.
   */
  private static InetSocketAddress sameOrOwn(InetSocketAddress sent, InetSocketAddress own) {
    if (own == null || !own.equals(sent)) {
      return sent;
    }
    if (own.getAddress() instanceof Inet6Address o) {
      return sent.getAddress() instanceof Inet6Address s && s.getScopeId() == o.getScopeId()
          && s.getScopedInterface() == o.getScopedInterface() ? own : sent;
    }
    return own;
  }

  /**
   * One TCP connection, whichever descriptor and link it arrives on: a proxy that sends the same
   * connection twice is caught by it. Connection ids are not enough: they are unique per proxy run
   * only, and a successor renumbers migrated connections. Its fields are the TCP peer (behind a
   * load balancer, the balancer), the proxy's listener address and the accept time. It is also
   * the channel's close listener, which takes it out of {@link #served}: one object per
   * connection for both.
   */
  private final class Served implements ChannelFutureListener {
    private final InetSocketAddress peer;
    private final InetSocketAddress local;
    private final long acceptedAtMicros;

    Served(Handoff facts) {
      this.peer = facts.proxiedBy() != null ? facts.proxiedBy() : facts.client();
      this.local = facts.local();
      this.acceptedAtMicros = Handoff.micros(facts.acceptedAt());
    }

    @Override
    public void operationComplete(ChannelFuture closed) {
      untrack(closed.channel(), this);
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Served k && acceptedAtMicros == k.acceptedAtMicros
          && peer.equals(k.peer) && local.equals(k.local);
    }

    @Override
    public int hashCode() {
      return (peer.hashCode() * 31 + local.hashCode()) * 31 + Long.hashCode(acceptedAtMicros);
    }
  }

  @Override
  public List<CompletableFuture<Detached>> detachAll(boolean stateless) {
    List<CompletableFuture<Detached>> detaching = new ArrayList<>();
    for (EpollSocketChannel channel : served.values()) {
      if (channel.isOpen()) {
        detaching.add(ConnectionDetacher.detach(channel, stateless));
      }
    }
    return detaching;
  }

  @Override
  public void resume(Detached connection) {
    EpollSocketChannel channel = connection.channel();
    group.register(channel).addListener(f -> {
      if (f.isSuccess()) {
        channel.config().setAutoRead(autoRead);
      } else {
        channel.unsafe().closeForcibly();
      }
    });
  }

  @Override
  public IoEventLoop linkLoop() {
    EventLoop next = group.next();
    return next instanceof IoEventLoop loop && loop.isCompatible(LinkPoller.class) ? loop : null;
  }

  @Override
  public int liveConnections() {
    return open.get();
  }

  /** Counts a channel just put in {@link #served} under {@code key}, until it closes. */
  private void track(Channel channel, Served key) {
    open.incrementAndGet();
    channel.closeFuture().addListener(key);
  }

  /**
   * Undoes {@link #track}; once per channel, whether it closed or never got registered: only the
   * call that takes the entry out counts it down.
   */
  private void untrack(Channel channel, Served key) {
    if (served.remove(key, channel)) {
      open.decrementAndGet();
    }
  }

  @Override
  public int awaitIdle(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (liveConnections() > 0 && System.nanoTime() - deadline < 0) {
      TimeUnit.MILLISECONDS.sleep(20);
    }
    return liveConnections();
  }

  /** Closes every connection still open, and stops the I/O threads if the engine made them. */
  @Override
  public void close() {
    List<ChannelFuture> closing = new ArrayList<>();
    for (EpollSocketChannel channel : served.values()) {
      closing.add(channel.close());
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    for (ChannelFuture f : closing) {
      long left = deadline - System.nanoTime();
      if (left <= 0 || !f.awaitUninterruptibly(left, TimeUnit.NANOSECONDS)) {
        break;
      }
    }
    if (ownsGroup) {
      group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
  }
}
