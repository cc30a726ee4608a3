package dev.handoff.server;

import dev.handoff.common.Uids;
import io.netty.channel.ChannelOption;
import io.netty.channel.DefaultChannelConfig;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.Map;
import java.util.Set;

/**
 * The options of a {@link HandoffServerChannel}: Netty's own ({@code AUTO_READ} and the like,
 * which mean little for a channel that reads no bytes) and the {@link HandoffChannelOption}s,
 * validated as they are set, as the bootstrap's setters validate theirs.
 */
final class HandoffServerChannelConfig extends DefaultChannelConfig {
  private Set<PosixFilePermission> socketMode = PosixFilePermissions.fromString("rw-------");
  /** Null until set: the default is read from /proc at bind, not when the channel is made. */
  private Set<Integer> allowedUids;
  private int maxLinks = 64;
  private Integer maxConnections;
  private boolean acceptPlain = true;
  private boolean stateless;
  private boolean takeOver;
  private Duration takeOverTimeout = Duration.ofSeconds(30);
  private Duration handOverTimeout = Handover.DEFAULT_TIMEOUT;
  private Callable<?> readiness;
  /** A MeterRegistry, kept as an Object so that this class loads without Micrometer. */
  private Object registry;

  HandoffServerChannelConfig(HandoffServerChannel channel) {
    super(channel);
  }

  @Override
  public Map<ChannelOption<?>, Object> getOptions() {
    return getOptions(super.getOptions(), HandoffChannelOption.SOCKET_MODE,
        HandoffChannelOption.ALLOWED_UIDS, HandoffChannelOption.MAX_LINKS,
        HandoffChannelOption.MAX_CONNECTIONS, HandoffChannelOption.ACCEPT_PLAIN,
        HandoffChannelOption.STATELESS, HandoffChannelOption.TAKE_OVER,
        HandoffChannelOption.TAKE_OVER_TIMEOUT, HandoffChannelOption.HAND_OVER_TIMEOUT,
        HandoffChannelOption.READINESS, HandoffChannelOption.METER_REGISTRY);
  }

  @Override
  @SuppressWarnings("unchecked")
  public <T> T getOption(ChannelOption<T> option) {
    if (option == HandoffChannelOption.SOCKET_MODE) {
      return (T) socketMode;
    } else if (option == HandoffChannelOption.ALLOWED_UIDS) {
      return (T) (allowedUids != null ? allowedUids : Uids.selfAndRoot());
    } else if (option == HandoffChannelOption.MAX_LINKS) {
      return (T) Integer.valueOf(maxLinks);
    } else if (option == HandoffChannelOption.MAX_CONNECTIONS) {
      return (T) maxConnections;
    } else if (option == HandoffChannelOption.ACCEPT_PLAIN) {
      return (T) Boolean.valueOf(acceptPlain);
    } else if (option == HandoffChannelOption.STATELESS) {
      return (T) Boolean.valueOf(stateless);
    } else if (option == HandoffChannelOption.TAKE_OVER) {
      return (T) Boolean.valueOf(takeOver);
    } else if (option == HandoffChannelOption.TAKE_OVER_TIMEOUT) {
      return (T) takeOverTimeout;
    } else if (option == HandoffChannelOption.HAND_OVER_TIMEOUT) {
      return (T) handOverTimeout;
    } else if (option == HandoffChannelOption.READINESS) {
      return (T) readiness;
    } else if (option == HandoffChannelOption.METER_REGISTRY) {
      return (T) registry;
    }
    return super.getOption(option);
  }

  @Override
  @SuppressWarnings("unchecked")
  public <T> boolean setOption(ChannelOption<T> option, T value) {
    validate(option, value);
    if (option == HandoffChannelOption.SOCKET_MODE) {
      socketMode = Set.copyOf((Set<PosixFilePermission>) value);
    } else if (option == HandoffChannelOption.ALLOWED_UIDS) {
      Set<Integer> uids = Set.copyOf((Set<Integer>) value);
      if (uids.isEmpty()) {
        throw new IllegalArgumentException("at least one uid must be allowed");
      }
      allowedUids = uids;
    } else if (option == HandoffChannelOption.MAX_LINKS) {
      maxLinks = atLeastOne("MAX_LINKS", (Integer) value);
    } else if (option == HandoffChannelOption.MAX_CONNECTIONS) {
      maxConnections = atLeastOne("MAX_CONNECTIONS", (Integer) value);
    } else if (option == HandoffChannelOption.ACCEPT_PLAIN) {
      acceptPlain = (Boolean) value;
    } else if (option == HandoffChannelOption.STATELESS) {
      stateless = (Boolean) value;
    } else if (option == HandoffChannelOption.TAKE_OVER) {
      takeOver = (Boolean) value;
    } else if (option == HandoffChannelOption.TAKE_OVER_TIMEOUT) {
      takeOverTimeout = (Duration) value;
    } else if (option == HandoffChannelOption.HAND_OVER_TIMEOUT) {
      handOverTimeout = HandoffServerBootstrap.positive("HAND_OVER_TIMEOUT", (Duration) value);
    } else if (option == HandoffChannelOption.READINESS) {
      readiness = (Callable<?>) value;
    } else if (option == HandoffChannelOption.METER_REGISTRY) {
      registry = value;
    } else if (option == ChannelOption.SO_BACKLOG) {
      // Taken and left unused, as servers such as grpc-java set it on every server channel: the
      // links waiting to be accepted are bounded by MAX_LINKS.
      return true;
    } else {
      return super.setOption(option, value);
    }
    return true;
  }

  private static int atLeastOne(String name, int n) {
    if (n < 1) {
      throw new IllegalArgumentException(name + " must be at least 1: " + n);
    }
    return n;
  }

  boolean takeOver() {
    return takeOver;
  }

  Duration takeOverTimeout() {
    return takeOverTimeout;
  }

  /** The server's settings for a bind at {@code socket}. */
  ServerConfig serverConfig(Path socket) {
    return new ServerConfig(socket, socketMode, maxLinks,
        allowedUids != null ? allowedUids : Uids.selfAndRoot(),
        maxConnections != null ? maxConnections : OpenFileLimit.defaultMaxConnections(),
        stateless, acceptPlain, registry, handOverTimeout, readiness);
  }
}
