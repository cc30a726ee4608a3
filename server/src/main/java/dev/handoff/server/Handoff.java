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
 * <p>Immutable; made by the library only.
 *
 * <ul>
 *   <li>{@code connectionId}: the proxy's id of the connection ({@code c42} in both daemons' logs);
 *     unique within one proxy run
 *   <li>{@code client}: the client's address and port: behind a trusted load balancer (proxy option
 *     {@code --proxy-protocol-from}), the original client its PROXY protocol header named
 *   <li>{@code local}: the address and port the client connected to, on the proxy's listener
 *   <li>{@code acceptedAt}: when the proxy accepted it (the proxy's clock)
 *   <li>{@code migrated}: whether it arrived from a previous app during a take-over rather than from a
 *     proxy; its id is then the number of the move, not the proxy's
 *   <li>{@code proxiedBy}: the load balancer, the TCP peer of the socket, when {@code client} is the
 *     client it spoke for; otherwise {@code null}
 *   <li>{@code authority}: the server name the client asked the load balancer for (PROXY v2
 *     PP2_TYPE_AUTHORITY), or {@code null}
 *   <li>{@code uniqueId}: the load balancer's id of the connection (PROXY v2 PP2_TYPE_UNIQUE_ID, opaque
 *     bytes; HAProxy sends its {@code unique-id-format} as text), or {@code null}; each call
 *     gives a copy
 * </ul>
 */
public final class Handoff {
  private final long connectionId;
  private final InetSocketAddress client;
  private final InetSocketAddress local;
  /** When the proxy accepted it, microseconds since the epoch: no Instant kept per connection. */
  private final long acceptedAtMicros;
  private final boolean migrated;
  private final InetSocketAddress proxiedBy;
  private final String authority;
  private final byte[] uniqueId;

  private Handoff(long connectionId, InetSocketAddress client, InetSocketAddress local,
      long acceptedAtMicros, boolean migrated, InetSocketAddress proxiedBy, String authority,
      byte[] uniqueId) {
    this.connectionId = connectionId;
    this.client = client;
    this.local = local;
    this.acceptedAtMicros = acceptedAtMicros;
    this.migrated = migrated;
    this.proxiedBy = proxiedBy;
    this.authority = authority;
    this.uniqueId = uniqueId;
  }

  /** The proxy's id of the connection; unique within one proxy run. */
  public long connectionId() {
    return connectionId;
  }

  /** The client's address and port (behind a trusted load balancer, the client it named). */
  public InetSocketAddress client() {
    return client;
  }

  /** The address and port the client connected to, on the proxy's listener. */
  public InetSocketAddress local() {
    return local;
  }

  /** When the proxy accepted the connection (the proxy's clock). */
  public Instant acceptedAt() {
    return Instant.ofEpochSecond(Math.floorDiv(acceptedAtMicros, 1_000_000L),
        Math.floorMod(acceptedAtMicros, 1_000_000L) * 1_000);
  }

  /** {@link #acceptedAt()} in microseconds since the epoch, as the header carries it. */
  long acceptedAtMicros() {
    return acceptedAtMicros;
  }

  /** Whether the connection arrived from a previous app during a take-over. */
  public boolean migrated() {
    return migrated;
  }

  /** The load balancer that spoke for {@link #client()}, or {@code null}. */
  public InetSocketAddress proxiedBy() {
    return proxiedBy;
  }

  /** The server name the client asked the load balancer for, or {@code null}. */
  public String authority() {
    return authority;
  }

  /** The load balancer's id of the connection (a copy), or {@code null}. */
  public byte[] uniqueId() {
    return uniqueId == null ? null : uniqueId.clone();
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
    OriginalClient origin = header.origin();
    return new Handoff(header.connectionId(), origin == null ? peer : origin.address(), local,
        header.acceptedAtMicros(),
        header.kind() == HandoffHeader.Kind.MIGRATED, origin == null ? null : peer,
        origin == null ? null : origin.authority(),
        origin == null || origin.uniqueId() == null ? null : origin.uniqueId().clone());
  }

  /** The header these facts were made from (without a migrated one's byte counts). */
  HandoffHeader toHeader() {
    OriginalClient origin = proxiedBy == null ? null
        : new OriginalClient(client, authority, uniqueId);
    return new HandoffHeader(connectionId, acceptedAtMicros,
        proxiedBy == null ? client : proxiedBy, local,
        migrated ? HandoffHeader.Kind.MIGRATED : HandoffHeader.Kind.CONNECTION, 0, 0, origin);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Handoff h && connectionId == h.connectionId && migrated == h.migrated
        && client.equals(h.client) && local.equals(h.local) && acceptedAtMicros == h.acceptedAtMicros
        && Objects.equals(proxiedBy, h.proxiedBy) && Objects.equals(authority, h.authority)
        && Arrays.equals(uniqueId, h.uniqueId);
  }

  @Override
  public int hashCode() {
    return Objects.hash(connectionId, client, local, acceptedAtMicros, migrated, proxiedBy,
        authority, Arrays.hashCode(uniqueId));
  }

  @Override
  public String toString() {
    return "c" + connectionId + " " + client + " -> " + local
        + (proxiedBy == null ? "" : " via " + proxiedBy)
        + (authority == null ? "" : " authority=" + authority)
        + (migrated ? " (migrated)" : "");
  }
}
