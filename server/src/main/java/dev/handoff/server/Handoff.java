package dev.handoff.server;

import dev.handoff.common.HandoffHeader;
import dev.handoff.common.OriginalClient;
import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.Arrays;
import java.util.Objects;

/**
 * What the proxy knew of a connection when it accepted it, set on every channel the library
 * creates before the child handler runs: read it with {@link #of(Channel)} or
 * {@code channel.attr(Handoff.ATTRIBUTE)}. The channel's own {@code remoteAddress()} is the same
 * client (the socket is the one the proxy accepted, or, behind a load balancer, the client the
 * balancer spoke for); these facts cost no system call.
 *
 * @param connectionId the proxy's id of the connection ({@code c42} in both daemons' logs);
 *     unique within one proxy run
 * @param client the client's address and port: behind a trusted load balancer (proxy option
 *     {@code --proxy-protocol-from}), the original client its PROXY protocol header named
 * @param local the address and port the client connected to, on the proxy's listener
 * @param acceptedAt when the proxy accepted it (the proxy's clock)
 * @param migrated whether it arrived from a previous app during a take-over rather than from a
 *     proxy; its id is then the number of the move, not the proxy's
 * @param proxiedBy the load balancer, the TCP peer of the socket, when {@code client} is the
 *     client it spoke for; otherwise {@code null}
 * @param authority the server name the client asked the load balancer for (PROXY v2
 *     PP2_TYPE_AUTHORITY), or {@code null}
 * @param uniqueId the load balancer's id of the connection (PROXY v2 PP2_TYPE_UNIQUE_ID, opaque
 *     bytes; HAProxy sends its {@code unique-id-format} as text), or {@code null}; not to be
 *     modified
 */
public record Handoff(long connectionId, InetSocketAddress client, InetSocketAddress local,
    Instant acceptedAt, boolean migrated, InetSocketAddress proxiedBy, String authority,
    byte[] uniqueId) {

  /**
   * The facts of a connection that came straight from its client.
   *
   * @param connectionId the proxy's id of the connection
   * @param client the client's address and port
   * @param local the address and port the client connected to
   * @param acceptedAt when the proxy accepted it
   * @param migrated whether it arrived from a previous app during a take-over
   */
  public Handoff(long connectionId, InetSocketAddress client, InetSocketAddress local,
      Instant acceptedAt, boolean migrated) {
    this(connectionId, client, local, acceptedAt, migrated, null, null, null);
  }

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
    return of(header, header.client(), header.local());
  }

  /**
   * The facts of {@code header}, with {@code peer} and {@code local} in place of its TCP peer and
   * listener address: equal objects the caller already keeps (a channel's), so that the facts
   * hold no copy of their own.
   */
  static Handoff of(HandoffHeader header, InetSocketAddress peer, InetSocketAddress local) {
    long micros = header.acceptedAtMicros();
    OriginalClient origin = header.origin();
    return new Handoff(header.connectionId(), origin == null ? peer : origin.address(), local,
        Instant.ofEpochSecond(micros / 1_000_000, (micros % 1_000_000) * 1_000),
        header.kind() == HandoffHeader.Kind.MIGRATED, origin == null ? null : peer,
        origin == null ? null : origin.authority(), origin == null ? null : origin.uniqueId());
  }

  /** The header these facts were made from (without a migrated one's byte counts). */
  HandoffHeader toHeader() {
    OriginalClient origin = proxiedBy == null ? null
        : new OriginalClient(client, authority, uniqueId);
    return new HandoffHeader(connectionId, micros(acceptedAt),
        proxiedBy == null ? client : proxiedBy, local,
        migrated ? HandoffHeader.Kind.MIGRATED : HandoffHeader.Kind.CONNECTION, 0, 0, origin);
  }

  /** {@code at} in microseconds since the epoch, as the header carries it. */
  static long micros(Instant at) {
    return Math.addExact(Math.multiplyExact(at.getEpochSecond(), 1_000_000L),
        at.getNano() / 1_000);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Handoff h && connectionId == h.connectionId && migrated == h.migrated
        && client.equals(h.client) && local.equals(h.local) && acceptedAt.equals(h.acceptedAt)
        && Objects.equals(proxiedBy, h.proxiedBy) && Objects.equals(authority, h.authority)
        && Arrays.equals(uniqueId, h.uniqueId);
  }

  @Override
  public int hashCode() {
    return Objects.hash(connectionId, client, local, acceptedAt, migrated, proxiedBy, authority,
        Arrays.hashCode(uniqueId));
  }

  @Override
  public String toString() {
    return "c" + connectionId + " " + client + " -> " + local
        + (proxiedBy == null ? "" : " via " + proxiedBy)
        + (authority == null ? "" : " authority=" + authority)
        + (migrated ? " (migrated)" : "");
  }
}
