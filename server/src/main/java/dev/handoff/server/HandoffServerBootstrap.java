package dev.handoff.server;

import dev.handoff.common.internal.JdkNioInternals;
import dev.handoff.common.Uids;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoEventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * Sets up a {@link HandoffServer}, the way Netty's {@code ServerBootstrap} sets up a TCP server
 * (it is a shorthand for a {@code ServerBootstrap} with a {@link HandoffServerChannel}, that also
 * drains and closes):
 * give it event loops and a child handler, then {@link #bind} a unix socket instead of a port.
 * Every connection a proxy hands over becomes a Netty channel with the child handler in its
 * pipeline; the library does the rest (the socket file, peer checks, validation, answers, the
 * connection cap, drain and take-over).
 *
 * <pre>{@code
 * HandoffServer server = new HandoffServerBootstrap()
 *     .group(group)                       // epoll event loops, or .ioThreads(n)
 *     .childHandler(new ChannelInitializer<Channel>() {
 *       protected void initChannel(Channel ch) {
 *         ch.pipeline().addLast(new MyHandler());
 *       }
 *     })
 *     .bind(Path.of("/run/my.sock"));
 * }</pre>
 *
 * <p>A bootstrap may be used for several servers; each {@code bind} copies its settings.
 */
public final class HandoffServerBootstrap {
  /**
   * Descriptors the default connection cap keeps back from the open-file limit: the JVM's own,
   * the links, and what one message can bring (up to 253, all of which must be installed so that
   * they can be closed).
   */
  public static final int DESCRIPTOR_RESERVE = OpenFileLimit.RESERVE;

  /** The default connection cap: the process's open-file limit less {@link #DESCRIPTOR_RESERVE}. */
  public static int defaultMaxConnections() {
    return OpenFileLimit.defaultMaxConnections();
  }

  /**
   * Loads and initialises, on the calling thread, what {@link #bind} and {@link #takeOver} need
   * whatever the configuration: Netty's epoll transport and its native library, junixsocket's
   * native library, and the classes of the server channel, the links and a take-over. Optional: a
   * program that calls it on a thread of its own as it starts has that work done while it does
   * its own (reading its command line, say) instead of after it, which shortens above all a
   * successor's time to take over. It reports nothing: what fails here, {@link #bind} and {@link
   * #takeOver} report.
   */
  public static void preload() {
    Preloader.preload();
  }

  /** The default of {@link #allowedUids}: this process's own uid, and root. */
  public static Set<Integer> defaultAllowedUids() {
    return Uids.selfAndRoot();
  }

  private EventLoopGroup group;
  private int ioThreads = Runtime.getRuntime().availableProcessors();
  private ChannelHandler childHandler;
  private final Map<ChannelOption<?>, Object> childOptions = new LinkedHashMap<>();
  private Set<PosixFilePermission> socketMode = PosixFilePermissions.fromString("rw-------");
  /** Null until set: the default is read from /proc at bind, so that constructing does no I/O. */
  private Set<Integer> allowedUids;
  private int maxLinks = 64;
  private Integer maxConnections;
  private boolean stateless;
  private boolean acceptPlain = true;
  /** A MeterRegistry, or null; kept as an Object so that Micrometer is optional. */
  private Object registry;
  private Duration takeOverTimeout = Duration.ofSeconds(30);
  private Duration handOverTimeout = Handover.DEFAULT_TIMEOUT;
  /** Null: ready as soon as the path is bound. */
  private Callable<?> readiness;

  /**
   * The event loops that serve the connections: an epoll group, e.g. {@code new
   * MultiThreadIoEventLoopGroup(n, EpollIoHandler.newFactory())}. The caller owns it: closing the
   * server leaves it running. Without it the server makes {@link #ioThreads} loops of its own and
   * stops them on close.
   */
  public HandoffServerBootstrap group(EventLoopGroup group) {
    this.group = Objects.requireNonNull(group, "group");
    return this;
  }

  /** How many event loops to make when no {@link #group} is given; default: the processors. */
  public HandoffServerBootstrap ioThreads(int n) {
    if (n < 1) {
      throw new IllegalArgumentException("ioThreads must be at least 1: " + n);
    }
    this.ioThreads = n;
    return this;
  }

  /**
   * The handler added to each connection's pipeline, usually a {@code ChannelInitializer}. It is
   * shared by every connection, so it must be {@code @Sharable} (as a {@code ChannelInitializer}
   * is). Required.
   */
  public HandoffServerBootstrap childHandler(ChannelHandler handler) {
    this.childHandler = Objects.requireNonNull(handler, "handler");
    return this;
  }

  /**
   * An option set on each connection's channel before its pipeline is built, as
   * {@code ServerBootstrap.childOption}; {@code null} removes it.
   */
  public <T> HandoffServerBootstrap childOption(ChannelOption<T> option, T value) {
    Objects.requireNonNull(option, "option");
    if (value == null) {
      childOptions.remove(option);
    } else {
      childOptions.put(option, value);
    }
    return this;
  }

  /** Permissions of the socket file; a proxy needs write permission to connect. Default 0600. */
  public HandoffServerBootstrap socketMode(Set<PosixFilePermission> mode) {
    this.socketMode = Set.copyOf(mode);
    return this;
  }

  /** The uids whose processes may link (checked with SO_PEERCRED). Default: own uid and root. */
  public HandoffServerBootstrap allowedUids(Set<Integer> uids) {
    if (uids.isEmpty()) {
      throw new IllegalArgumentException("at least one uid must be allowed");
    }
    this.allowedUids = Set.copyOf(uids);
    return this;
  }

  /** Proxy links served at once; more are refused. Default 64. */
  public HandoffServerBootstrap maxLinks(int n) {
    if (n < 1) {
      throw new IllegalArgumentException("maxLinks must be at least 1: " + n);
    }
    this.maxLinks = n;
    return this;
  }

  /**
   * Connections served at once; beyond it handoffs are answered RETRY and the proxy keeps them.
   * Default: the open-file limit less {@link #DESCRIPTOR_RESERVE}.
   */
  public HandoffServerBootstrap maxConnections(int n) {
    if (n < 1) {
      throw new IllegalArgumentException("maxConnections must be at least 1: " + n);
    }
    this.maxConnections = n;
    return this;
  }

  /**
   * Declares that the pipelines keep no per-connection state beyond what the socket and the
   * unsent outbound bytes carry, so that a take-over moves every connection even though no
   * handler implements {@link MigratableHandler}. Default false: such connections stay with the
   * old app until they end.
   */
  public HandoffServerBootstrap stateless(boolean stateless) {
    this.stateless = stateless;
    return this;
  }

  /**
   * Whether links from plain descriptor senders are served: programs that pass one descriptor per
   * message with a small payload and read no answer (the seed's Go proxy, runc's {@code SendFd},
   * a C {@code sendmsg}); see docs/PROTOCOL.md, "Plain mode". A link's first message decides its
   * mode. Plain handoffs get no acknowledgement, so their sender cannot resend what is lost.
   * Default true.
   */
  public HandoffServerBootstrap acceptPlain(boolean accept) {
    this.acceptPlain = accept;
    return this;
  }

  /**
   * Where to publish the server's meters ({@code handoff.app.*}: handoffs adopted and refused,
   * live connections, links, the handoff latency histogram). Default: none.
   */
  public HandoffServerBootstrap meterRegistry(MeterRegistry registry) {
    this.registry = Objects.requireNonNull(registry, "registry");
    return this;
  }

  /** How long {@link #takeOver} waits for the running app to free the path. Default 30 s. */
  public HandoffServerBootstrap takeOverTimeout(Duration timeout) {
    this.takeOverTimeout = Objects.requireNonNull(timeout, "timeout");
    return this;
  }

  /**
   * How long this server, when a successor {@link #takeOver takes over} from it, waits on the
   * successor at each step before it rolls the take-over back and serves everything again
   * (docs/UPGRADES.md): from the successor's request until it has bound the path and said so;
   * then, while the connections move, from each answer of the successor to its next one; and
   * from the switch of a two-phase move to its answer. It bounds waiting on a successor that
   * stopped answering, not the whole move: a move of many connections takes as long as it
   * needs while the successor keeps answering. Default 10 s.
   *
   * @throws IllegalArgumentException if {@code timeout} is not positive
   */
  public HandoffServerBootstrap handOverTimeout(Duration timeout) {
    this.handOverTimeout = positive("handOverTimeout", timeout);
    return this;
  }

  /**
   * The readiness gate of a {@link #takeOver}: once this server has bound the freed socket path,
   * it calls {@code check} on a thread of its own, and tells the running app it is ready (so that
   * the connections start to move) only when {@code check} returns. Until then the running app
   * serves every connection, none of them paused, and new connections wait in the proxy. If
   * {@code check} throws, or has not returned within the running app's {@link #handOverTimeout},
   * the take-over is rolled back: this server frees the path (the {@link #takeOver} call throws
   * an {@link IOException} saying why) and the running app serves everything on and binds the
   * path again. A check still running then is interrupted.
   *
   * <p>It covers what can fail as this app starts: a dependency it cannot reach, a resource it
   * cannot get, a crash, found before a single connection moves. It does not cover what happens
   * after the commit: from then on every connection is this app's, and if it dies they die with
   * it (docs/UPGRADES.md). Default: none, ready as soon as the path is bound.
   *
   * @param check returns normally once this app is ready to serve; its value is ignored
   */
  public HandoffServerBootstrap readiness(Callable<?> check) {
    this.readiness = Objects.requireNonNull(check, "check");
    return this;
  }

  static Duration positive(String name, Duration timeout) {
    Objects.requireNonNull(timeout, name);
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException(name + " must be positive: " + timeout);
    }
    return timeout;
  }

  /**
   * Binds the unix socket at {@code socket} and starts taking handoffs. A stale socket file (one
   * that nobody accepts on) is replaced; a live one, or anything that is not a socket (a file, a
   * directory, a symlink), is left alone.
   *
   * <p>Binding fails at once, before anything is bound, with an {@link IllegalStateException}
   * whose message says what is missing: no child handler; Netty other than 4.2 on the class path;
   * the JVM started without {@code --add-exports java.base/sun.nio.ch=ALL-UNNAMED}. It fails with
   * an {@link UnsatisfiedLinkError} (from Netty's {@code Epoll.ensureAvailability()}) where epoll
   * is not available (not Linux, or Netty's native library missing for this CPU), and with an
   * {@link IllegalArgumentException} if the {@link #group} is not an epoll group.
   *
   * @throws SocketInUseException if another process accepts on {@code socket}
   * @throws IOException if the path cannot be bound
   */
  public HandoffServer bind(Path socket) throws IOException {
    return start(socket, false);
  }

  /**
   * Takes over from the app running at {@code socket}: it stops taking handoffs and frees the
   * path, this server binds it, and every connection the running app can move arrives here with
   * the bytes it had not sent and its handlers' state; the running app then completes its {@link
   * HandoffServer#handedOver()}. One take-over runs at a time.
   *
   * @throws IOException if no app listens at {@code socket}, it refused (another take-over is
   *     under way), or it did not answer within the {@link #takeOverTimeout}
   */
  public HandoffServer takeOver(Path socket) throws IOException {
    return start(socket, true);
  }

  /**
   * Binds the unix socket at {@code socket} like {@link #bind}, but hands each connection to the
   * caller as a JDK {@link java.nio.channels.SocketChannel} through the returned acceptor instead
   * of a Netty pipeline. The event loops, child handler and child options are not used.
   *
   * @param queue connections that may wait for {@link HandoffAcceptor#accept()}; beyond it
   *     handoffs are answered RETRY and the proxy keeps them
   * @throws SocketInUseException if another process accepts on {@code socket}
   * @throws IOException if the path cannot be bound
   */
  public HandoffAcceptor bindAcceptor(Path socket, int queue) throws IOException {
    return bindAcceptor(socket, queue, AcceptedConnections.NONE);
  }

  /**
   * As {@link #bindAcceptor(Path, int)}, and when a successor takes over, the connections that
   * {@code accepted} pauses move to it.
   *
   * @param accepted the caller's connections, as a take-over sees them
   */
  public HandoffAcceptor bindAcceptor(Path socket, int queue, AcceptedConnections accepted)
      throws IOException {
    return startAcceptor(socket, queue, accepted, null);
  }

  /**
   * Takes over from the app running at {@code socket} (as {@link #takeOver}) and hands each
   * connection, the moved ones too, to the caller through the returned acceptor (as {@link
   * #bindAcceptor}). A moved connection arrives as any other, with nothing unsent; one that the
   * running app could send only with unsent bytes or handler state (a Netty pipeline's) is
   * refused and stays there.
   *
   * @param accepted this process's connections, as its own successor will see them
   * @throws IOException if no app listens at {@code socket}, it refused, or it did not answer
   *     within the {@link #takeOverTimeout}
   */
  public HandoffAcceptor takeOverAcceptor(Path socket, int queue, AcceptedConnections accepted)
      throws IOException {
    checkQueue(queue);
    return startAcceptor(socket, queue, accepted,
        Successor.requestTakeOver(socket, takeOverTimeout));
  }

  private static void checkQueue(int queue) {
    if (queue < 1) {
      throw new IllegalArgumentException("queue must be at least 1: " + queue);
    }
  }

  private HandoffAcceptor startAcceptor(Path socket, int queue, AcceptedConnections accepted,
      Successor.Predecessor predecessor) throws IOException {
    try {
      checkQueue(queue);
      Objects.requireNonNull(accepted, "accepted");
      NettyVersion.require();
      JdkNioInternals.requireSocketChannels();
      Epoll.ensureAvailability(); // its native library checks each descriptor
    } catch (RuntimeException | Error e) {
      if (predecessor != null) {
        predecessor.close();
      }
      throw e;
    }
    SocketChannelEngine engine = new SocketChannelEngine(queue, accepted);
    HandoffServer server = new HandoffServer(config(socket), engine);
    server.start(predecessor);
    return new HandoffAcceptor(server, engine);
  }

  private ServerConfig config(Path socket) {
    return new ServerConfig(socket.toAbsolutePath(), socketMode, maxLinks,
        allowedUids != null ? allowedUids : defaultAllowedUids(),
        maxConnections != null ? maxConnections : OpenFileLimit.defaultMaxConnections(),
        stateless, acceptPlain, registry, handOverTimeout, readiness);
  }

  /**
   * Binds through Netty's own {@code ServerBootstrap} and a {@link HandoffServerChannel}: this
   * bootstrap is a shorthand for it.
   */
  @SuppressWarnings("unchecked")
  private HandoffServer start(Path socket, boolean takeOver) throws IOException {
    NettyVersion.require();
    if (childHandler == null) {
      throw new IllegalStateException("childHandler not set");
    }
    JdkNioInternals.requireAvailable();
    EpollChannels.require();
    Epoll.ensureAvailability();
    if (group != null) {
      requireEpoll(group);
    }
    boolean ownsGroup = group == null;
    EventLoopGroup loops = ownsGroup
        ? new MultiThreadIoEventLoopGroup(ioThreads, new DefaultThreadFactory("handoff-io", true),
            EpollIoHandler.newFactory())
        : group;
    ServerBootstrap bootstrap = new ServerBootstrap()
        .group(loops, loops)
        .channelFactory(() -> new HandoffServerChannel(ownsGroup ? loops : null))
        .option(HandoffChannelOption.SOCKET_MODE, socketMode)
        .option(HandoffChannelOption.MAX_LINKS, maxLinks)
        .option(HandoffChannelOption.ACCEPT_PLAIN, acceptPlain)
        .option(HandoffChannelOption.STATELESS, stateless)
        .option(HandoffChannelOption.TAKE_OVER, takeOver)
        .option(HandoffChannelOption.TAKE_OVER_TIMEOUT, takeOverTimeout)
        .option(HandoffChannelOption.HAND_OVER_TIMEOUT, handOverTimeout)
        .option(HandoffChannelOption.READINESS, readiness)
        .childHandler(childHandler);
    if (allowedUids != null) {
      bootstrap.option(HandoffChannelOption.ALLOWED_UIDS, allowedUids);
    }
    if (maxConnections != null) {
      bootstrap.option(HandoffChannelOption.MAX_CONNECTIONS, maxConnections);
    }
    if (registry != null) {
      bootstrap.option(HandoffChannelOption.METER_REGISTRY, (MeterRegistry) registry);
    }
    for (Map.Entry<ChannelOption<?>, Object> option : childOptions.entrySet()) {
      bootstrap.childOption((ChannelOption<Object>) option.getKey(), option.getValue());
    }
    ChannelFuture bound = bootstrap.bind(new HandoffAddress(socket)).awaitUninterruptibly();
    if (!bound.isSuccess()) {
      if (ownsGroup) {
        loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
      }
      Throwable cause = bound.cause();
      if (cause instanceof IOException e) {
        throw e;
      } else if (cause instanceof RuntimeException e) {
        throw e;
      } else if (cause instanceof Error e) {
        throw e;
      }
      throw new IOException("bind " + socket + ": " + cause, cause);
    }
    return ((HandoffServerChannel) bound.channel()).server();
  }

  /**
   * Refuses a group whose loops cannot serve epoll channels (NIO, io_uring, a plain executor):
   * registering a handed-off connection there would fail for each connection.
   */
  static void requireEpoll(EventLoopGroup group) {
    for (EventExecutor executor : group) {
      if (!(executor instanceof IoEventLoop loop) || !loop.isCompatible(LinkPoller.class)) {
        throw new IllegalArgumentException("the event loop group must be an epoll group (new"
            + " MultiThreadIoEventLoopGroup(n, EpollIoHandler.newFactory())): handed-off"
            + " connections are epoll channels, and " + executor + " cannot serve them");
      }
    }
  }
}
