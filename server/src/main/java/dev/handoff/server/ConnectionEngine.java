package dev.handoff.server;

import dev.handoff.common.HandoffException;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.internal.JdkNioInternals;
import dev.handoff.common.ReceivedHandoff;
import dev.handoff.server.ConnectionDetacher.Detached;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoEventLoop;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.unix.Socket;
import io.netty.util.AttributeKey;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
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
  /** Set on a child whose pipeline reads only on demand: a resumed child is left so. */
  private static final AttributeKey<Boolean> MANUAL_READ =
      AttributeKey.valueOf(ConnectionEngine.class, "manualRead");
  private final HandoffServerChannel parent;
  private final EventLoopGroup ownedGroup;
  /**
   * Handed-off connections being served, by what identifies them (see {@link Served}): caught
   * duplicates, and the connections to detach or close; an entry leaves when its channel closes.
   */
  private final Map<Served, EpollSocketChannel> served = new ConcurrentHashMap<>();
  /** Connections open now; kept as a counter because it is read for every handoff. */
  private final AtomicInteger open = new AtomicInteger();
  /** Guards nothing but the wait of {@link #awaitIdle}, signalled when {@link #open} hits 0. */
  private final Object idle = new Object();

  /**
   * @param parent the server channel: each adopted connection is read through its pipeline, where
   *     the bootstrap's acceptor sets the child up and registers it on the child group
   * @param ownedGroup an event loop group the engine made and stops on close, or {@code null}
   */
  ConnectionEngine(HandoffServerChannel parent, EventLoopGroup ownedGroup) {
    this.parent = parent;
    this.ownedGroup = ownedGroup;
  }

  /** The server channel's event loop, where each connection is given to its pipeline. */
  @Override
  public ScheduledExecutorService later() {
    return parent.eventLoop();
  }

  @Override
  public boolean adopt(ReceivedHandoff handoff, Consumer<Throwable> whenRegistered)
      throws IOException {
    HandoffHeader header = handoff.header();
    // A view of the descriptor as Netty holds it; the handoff still owns the descriptor.
    Socket socket = DescriptorCheck.requireConnectedTcpSocket(handoff);
    // The peer as the proxy's accept gave it, from the header, not asked of the kernel again;
    // unless the header cannot say: a plain sender's socket that had none, or an IPv6 link-local
    // peer, whose scope the header does not carry.
    InetSocketAddress tcpPeer = fromHeader(header.client()) ? header.client()
        : socket.remoteAddress();
    if (tcpPeer == null) {
      throw new HandoffException(HandoffException.Reason.CLIENT_GONE, header.connectionId(),
          handoff + " is not a connected TCP socket: it has no peer (the client went away)");
    }
    // O_NONBLOCK belongs to the open file, shared with every copy: the proxy may have left it off.
    JdkNioInternals.setBlocking(handoff.descriptor(), false);
    // Built before release(): if Netty refuses the descriptor, the handoff still closes it. Built
    // as Netty's accept path builds a child: the peer given (the client a trusted load balancer
    // named, if it did), only the local address asked. A client that reset meanwhile is found by
    // the first read, which closes the channel.
    EpollSocketChannel channel = EpollChannels.childOf(socket,
        header.origin() != null ? header.origin().address() : tcpPeer);
    Handoff facts = Handoff.of(header, tcpPeer,
        sameOrOwn(header.local(), (InetSocketAddress) channel.unsafe().localAddress()));
    Served key = new Served(facts);
    if (served.putIfAbsent(key, channel) != null) {
      return false;
    }
    handoff.release();
    // Ownership: from here the channel owns the descriptor; every path below closes the channel
    // (forcibly while it is unregistered) or hands it to the server pipeline, whose acceptor
    // registers it or closes it.
    boolean migrated = header.kind() == HandoffHeader.Kind.MIGRATED;
    try {
      channel.attr(Handoff.ATTRIBUTE).set(facts);
      channel.pipeline().addLast(new ChildRegistration(whenRegistered,
          migrated ? handoff.pending() : null, migrated ? handoff.state() : null));
    } catch (RuntimeException e) {
      served.remove(key);
      channel.unsafe().closeForcibly();
      throw new IOException("set up " + handoff + ": " + e.getMessage(), e);
    }
    track(channel, key);
    EventLoop loop = parent.eventLoop();
    if (loop.inEventLoop()) {
      accept(channel, key);
    } else {
      try {
        loop.execute(() -> accept(channel, key));
      } catch (RejectedExecutionException e) {
        untrack(channel, key);
        channel.unsafe().closeForcibly();
        whenRegistered.accept(e);
      }
    }
    return true;
  }

  /**
   * Gives the child to the server pipeline, as an epoll server socket channel gives each accepted
   * socket: {@code ServerBootstrap}'s acceptor adds the child handler, applies the child options
   * and attributes, and registers it on the child group; on the server's event loop.
   */
  private void accept(EpollSocketChannel channel, Served key) {
    if (!parent.isOpen()) {
      untrack(channel, key);
      channel.unsafe().closeForcibly();
      ChildRegistration registration = channel.pipeline().get(ChildRegistration.class);
      if (registration != null) {
        registration.failed(new IOException("the handoff server channel is closed"));
      }
      return;
    }
    ChildRegistration registration = channel.pipeline().get(ChildRegistration.class);
    parent.pipeline().fireChannelRead(channel);
    parent.pipeline().fireChannelReadComplete();
    if (!onAnEventLoop(channel)) {
      // Nothing took it to an event loop: a child group of another transport refuses it there
      // and then (the acceptor closes it later, forcibly, which completes no close future), and
      // a pipeline without an acceptor drops it. Closing the descriptor twice is safe: Netty
      // closes it once.
      untrack(channel, key);
      channel.unsafe().closeForcibly();
      if (registration != null) {
        registration.failed(new IOException("the server pipeline did not register it (is the"
            + " child group an epoll group?)"));
      }
    }
  }

  /** Whether a registration of {@code channel} has begun: it has an event loop. */
  private static boolean onAnEventLoop(Channel channel) {
    try {
      return channel.eventLoop() != null;
    } catch (IllegalStateException e) {
      return false; // "channel not registered to an event loop"
    }
  }

  /**
   * The first handler of each child until it is registered: answers the handoff once the child
   * is on its event loop (or could not get there), and for a connection migrated from a previous
   * app, hands each handler its state and writes what that app had not sent before anything is
   * read.
   */
  private final class ChildRegistration extends ChannelInboundHandlerAdapter {
    private final Consumer<Throwable> whenRegistered;
    private final byte[] pending;
    private final byte[] state;
    private boolean answered;

    ChildRegistration(Consumer<Throwable> whenRegistered, byte[] pending, byte[] state) {
      this.whenRegistered = whenRegistered;
      this.pending = pending;
      this.state = state;
    }

    /**
     * Answers that the connection could not be served, unless it was answered already. A child
     * that a handler closes while it is being registered (in {@code initChannel} or {@code
     * handlerAdded}, as a filter does) is not a failure: it was registered, then closed, which
     * {@link #channelRegistered} answers, so that the proxy closes its copy rather than sending
     * the connection again.
     */
    synchronized void failed(Throwable cause) {
      if (!answered) {
        answered = true;
        whenRegistered.accept(cause);
      }
    }

    @Override
    public void channelRegistered(ChannelHandlerContext ctx) {
      Channel channel = ctx.channel();
      boolean autoRead = channel.config().isAutoRead();
      if (!autoRead) {
        channel.attr(MANUAL_READ).set(Boolean.TRUE);
      }
      if (state != null) {
        // Nothing is read before the moved state is in and the moved bytes are out.
        channel.config().setAutoRead(false);
        resumeMigrated(ctx, autoRead);
      }
      boolean first;
      synchronized (this) {
        first = !answered;
        answered = true;
      }
      if (first) {
        whenRegistered.accept(null); // one answer per connection, whatever happened before
      }
      ctx.pipeline().remove(this);
      ctx.fireChannelRegistered();
    }

    /** Hands each handler its state, then writes what the previous app had not sent. */
    private void resumeMigrated(ChannelHandlerContext ctx, boolean autoRead) {
      Channel channel = ctx.channel();
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
      ctx.writeAndFlush(Unpooled.wrappedBuffer(pending)).addListener(written -> {
        if (written.isSuccess()) {
          channel.config().setAutoRead(autoRead);
        }
      });
    }
  }

  /**
   * {@code own} if it is the same address and port as the header's {@code sent} (and, for IPv6,
   * the same scope, which the header never carries), so that the connection's facts share the
   * channel's object instead of keeping a copy; else {@code sent}.
   */
  /** Whether the header's address of the client can stand for the socket's peer. */
  private static boolean fromHeader(InetSocketAddress client) {
    return client != null && client.getPort() != 0 && client.getAddress() != null
        && !client.getAddress().isAnyLocalAddress()
        && !(client.getAddress() instanceof Inet6Address a && a.isLinkLocalAddress());
  }

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
    /** The connection's facts, which the channel keeps too: no copy of its fields. */
    private final Handoff facts;

    Served(Handoff facts) {
      this.facts = facts;
    }

    private InetSocketAddress peer() {
      return facts.proxiedBy() != null ? facts.proxiedBy() : facts.client();
    }

    /**
     * Takes the connection out of {@link #served}; and if it closed before it was registered (its
     * registration failed, so nothing else will answer for it), answers that it could not be
     * served.
     */
    @Override
    public void operationComplete(ChannelFuture closed) {
      Channel channel = closed.channel();
      untrack(channel, this);
      if (!channel.isRegistered()) {
        ChildRegistration registration = channel.pipeline().get(ChildRegistration.class);
        if (registration != null) {
          registration.failed(new IOException("closed before it was registered on an event"
              + " loop"));
        }
      }
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Served k && facts.acceptedAtMicros() == k.facts.acceptedAtMicros()
          && peer().equals(k.peer()) && facts.local().equals(k.facts.local());
    }

    @Override
    public int hashCode() {
      return (peer().hashCode() * 31 + facts.local().hashCode()) * 31
          + Long.hashCode(facts.acceptedAtMicros());
    }
  }

  @Override
  public List<Supplier<CompletableFuture<Detached>>> movable(boolean stateless) {
    List<EpollSocketChannel> open = new ArrayList<>();
    for (EpollSocketChannel channel : served.values()) {
      if (channel.isOpen()) {
        open.add(channel);
      }
    }
    // The quietest first and the busiest last: a one-phase move pauses each connection shortly
    // before its own move, and the first paused waits for the last, so the clients in the middle
    // of an exchange are paused last (and the successor serves them first).
    long[] quiet = new long[open.size()];
    for (int k = 0; k < quiet.length; k++) {
      quiet[k] = ConnectionDetacher.quietMillis(open.get(k));
    }
    List<Supplier<CompletableFuture<Detached>>> movable = new ArrayList<>(open.size());
    for (int k : Handover.quietestFirst(quiet)) {
      EpollSocketChannel channel = open.get(k);
      movable.add(() -> ConnectionDetacher.detach(channel, stateless));
    }
    return movable;
  }

  /**
   * Two-phase take-over: copies the descriptor of every connection that may move now, with one
   * task per event loop, without pausing any (each is served on as before).
   */
  @Override
  public CompletableFuture<List<DescriptorCopy>> copies(boolean stateless) {
    int limit = OpenFileLimit.current();
    if ((long) liveConnections() * 2 + OpenFileLimit.RESERVE > limit) {
      log.info("{} connections, and an open-file limit of {}: no room for a copy of each; moving"
          + " them in one phase", liveConnections(), limit);
      return null;
    }
    Map<EventLoop, List<EpollSocketChannel>> byLoop = new LinkedHashMap<>();
    for (EpollSocketChannel channel : served.values()) {
      if (channel.isOpen()) {
        byLoop.computeIfAbsent(channel.eventLoop(), loop -> new ArrayList<>()).add(channel);
      }
    }
    List<CompletableFuture<List<DescriptorCopy>>> perLoop = new ArrayList<>();
    int candidates = byLoop.values().stream().mapToInt(List::size).sum();
    byLoop.forEach((loop, channels) -> {
      try {
        perLoop.add(CompletableFuture.supplyAsync(() -> copiesOf(channels, stateless), loop));
      } catch (RejectedExecutionException e) {
        perLoop.add(CompletableFuture.failedFuture(e)); // the loop is shutting down
      }
    });
    return CompletableFuture.allOf(perLoop.toArray(CompletableFuture[]::new))
        .handle((done, failure) -> {
          List<DescriptorCopy> all = new ArrayList<>();
          for (CompletableFuture<List<DescriptorCopy>> f : perLoop) {
            if (!f.isCompletedExceptionally()) {
              all.addAll(f.join());
            }
          }
          if (failure != null) {
            all.forEach(DescriptorCopy::close); // all or none: the caller gets none to close
            throw new java.util.concurrent.CompletionException(failure);
          }
          Handover.logStayed(candidates - all.size()); // never copied: they finish here
          return all;
        });
  }

  /**
   * On their event loop: a copy of each channel that can move now; none of those that cannot.
   *
   * @throws java.io.UncheckedIOException if a copy cannot be made (out of descriptors): the
   *     copies made are closed, and the move is then in one phase
   */
  private static List<DescriptorCopy> copiesOf(List<EpollSocketChannel> channels,
      boolean stateless) {
    List<DescriptorCopy> copies = new ArrayList<>(channels.size());
    for (EpollSocketChannel channel : channels) {
      Handoff facts = Handoff.of(channel);
      if (facts == null || !channel.isActive()
          || !MigratedState.canMove(channel.pipeline(), stateless)) {
        continue; // it stays here to finish, or it is closing
      }
      try {
        copies.add(DescriptorCopy.of(channel, facts.toHeader()));
      } catch (IOException e) {
        copies.forEach(DescriptorCopy::close);
        throw new java.io.UncheckedIOException(facts + ": cannot copy its descriptor", e);
      }
    }
    return copies;
  }

  @Override
  public void resume(Detached connection) {
    EpollSocketChannel channel = connection.channel();
    // Back on the loop it left (a deregistered channel keeps it).
    channel.eventLoop().register(channel).addListener(f -> {
      if (f.isSuccess()) {
        channel.config().setAutoRead(!channel.hasAttr(MANUAL_READ));
      } else {
        channel.unsafe().closeForcibly();
      }
    });
  }

  @Override
  public void release(Detached connection) {
    connection.channel().close(); // deregistered: close(2) on this copy, no shutdown
  }

  @Override
  public IoEventLoop linkLoop() {
    return parent.eventLoop() instanceof IoEventLoop loop && loop.isCompatible(LinkPoller.class)
        ? loop : null;
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
    if (served.remove(key, channel) && open.decrementAndGet() == 0) {
      synchronized (idle) {
        idle.notifyAll();
      }
    }
  }

  @Override
  public int awaitIdle(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (idle) {
      long left;
      while (liveConnections() > 0 && (left = deadline - System.nanoTime()) > 0) {
        TimeUnit.NANOSECONDS.timedWait(idle, left);
      }
    }
    return liveConnections();
  }

  /**
   * Closes the server channel and every connection still open, and stops the I/O threads if the
   * engine made them.
   */
  @Override
  public void close() {
    parent.close();
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
    if (ownedGroup != null) {
      ownedGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
  }
}
