package dev.handoff.server;

import io.micrometer.core.instrument.MeterRegistry;
import io.netty.channel.ChannelOption;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * Options of a {@link HandoffServerChannel}, set with {@code ServerBootstrap.option(...)} as
 * {@code EpollChannelOption}s are on an epoll server socket channel. Each is read when the channel
 * binds; setting one later changes nothing for that channel.
 *
 * @param <T> the option's value type
 */
public final class HandoffChannelOption<T> extends ChannelOption<T> {
  /** Permissions of the socket file; a proxy needs write permission to connect. Default 0600. */
  public static final ChannelOption<Set<PosixFilePermission>> SOCKET_MODE =
      valueOf(HandoffChannelOption.class, "SOCKET_MODE");

  /** The uids whose processes may link (checked with SO_PEERCRED). Default: own uid and root. */
  public static final ChannelOption<Set<Integer>> ALLOWED_UIDS =
      valueOf(HandoffChannelOption.class, "ALLOWED_UIDS");

  /** Proxy links served at once; more are refused. Default 64. */
  public static final ChannelOption<Integer> MAX_LINKS =
      valueOf(HandoffChannelOption.class, "MAX_LINKS");

  /**
   * Connections served at once; beyond it handoffs are answered RETRY and the proxy keeps them.
   * Default: the open-file limit less {@link HandoffServerBootstrap#DESCRIPTOR_RESERVE}.
   */
  public static final ChannelOption<Integer> MAX_CONNECTIONS =
      valueOf(HandoffChannelOption.class, "MAX_CONNECTIONS");

  /**
   * Whether links from plain descriptor senders (one descriptor per message, no answer read) are
   * served; see docs/PROTOCOL.md, "Plain mode". Default true.
   */
  public static final ChannelOption<Boolean> ACCEPT_PLAIN =
      valueOf(HandoffChannelOption.class, "ACCEPT_PLAIN");

  /**
   * Declares that the children's pipelines keep no state beyond what the socket and the unsent
   * outbound bytes carry, so that a take-over moves every connection; see {@link
   * HandoffServerBootstrap#stateless}. Default false.
   */
  public static final ChannelOption<Boolean> STATELESS =
      valueOf(HandoffChannelOption.class, "STATELESS");

  /**
   * Bind by taking over from the app serving the path: it stops taking handoffs, frees the path
   * and sends every connection that can move; see {@link HandoffServerBootstrap#takeOver}. The
   * bind fails if no app serves the path. Default false.
   */
  public static final ChannelOption<Boolean> TAKE_OVER =
      valueOf(HandoffChannelOption.class, "TAKE_OVER");

  /** How long a {@link #TAKE_OVER} bind waits for the running app to free the path. Default 30 s. */
  public static final ChannelOption<Duration> TAKE_OVER_TIMEOUT =
      valueOf(HandoffChannelOption.class, "TAKE_OVER_TIMEOUT");

  /**
   * How long each wait on a successor that takes over from this server may last before the
   * take-over is rolled back; see {@link HandoffServerBootstrap#handOverTimeout}. Default 10 s.
   */
  public static final ChannelOption<Duration> HAND_OVER_TIMEOUT =
      valueOf(HandoffChannelOption.class, "HAND_OVER_TIMEOUT");

  /**
   * When binding by {@link #TAKE_OVER}, what must return before the running app is told this
   * server is ready; see {@link HandoffServerBootstrap#readiness}. Default: none.
   */
  public static final ChannelOption<Callable<?>> READINESS =
      valueOf(HandoffChannelOption.class, "READINESS");

  /**
   * Where to publish the meters ({@code handoff.app.*}, tagged with the socket path). Default:
   * none. Needs micrometer-core on the class path.
   */
  public static final ChannelOption<MeterRegistry> METER_REGISTRY =
      valueOf(HandoffChannelOption.class, "METER_REGISTRY");

  @SuppressWarnings({"deprecation", "unused"})
  private HandoffChannelOption() {
    super(null);
  }
}
