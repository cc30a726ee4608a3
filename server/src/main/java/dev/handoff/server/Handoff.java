package dev.handoff.server;

import dev.handoff.common.HandoffHeader;
import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import java.net.InetSocketAddress;
import java.time.Instant;

/**
 * What the proxy knew of a connection when it accepted it, set on every channel the library
 * creates before the child handler runs: read it with {@link #of(Channel)} or
 * {@code channel.attr(Handoff.ATTRIBUTE)}. The channel's own {@code remoteAddress()} is the real
 * client too (the socket is the one the proxy accepted); these facts cost no system call.
 *
 * @param connectionId the proxy's id of the connection ({@code c42} in both daemons' logs);
 *     unique within one proxy run
 * @param client the client's address and port
 * @param local the address and port the client connected to, on the proxy's listener
 * @param acceptedAt when the proxy accepted it (the proxy's clock)
 * @param migrated whether it arrived from a previous app during a take-over rather than from a
 *     proxy; its id is then the number of the move, not the proxy's
 */
public record Handoff(long connectionId, InetSocketAddress client, InetSocketAddress local,
    Instant acceptedAt, boolean migrated) {

  /** The channel attribute that holds the handoff's facts. */
  public static final AttributeKey<Handoff> ATTRIBUTE = AttributeKey.valueOf(Handoff.class,
      "handoff");

  /**
   * The facts of the connection served on {@code channel}.
   *
   * @return {@code null} for a channel the library did not create
   */
  public static Handoff of(Channel channel) {
    return channel.attr(ATTRIBUTE).get();
  }

  static Handoff of(HandoffHeader header) {
    long micros = header.acceptedAtMicros();
    return new Handoff(header.connectionId(), header.client(), header.local(),
        Instant.ofEpochSecond(micros / 1_000_000, (micros % 1_000_000) * 1_000),
        header.kind() == HandoffHeader.Kind.MIGRATED);
  }

  @Override
  public String toString() {
    return "c" + connectionId + " " + client + " -> " + local + (migrated ? " (migrated)" : "");
  }
}
