package dev.handoff.common;

import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * What travels with each descriptor: the facts the proxy knew when it accepted the connection.
 *
 * <p>The app could learn the addresses from the descriptor itself (getpeername), but the proxy has
 * them for free and the app should not need a syscall to log a connection.
 *
 * @param connectionId unique within one proxy run, assigned in accept order starting at 1
 * @param acceptedAtMicros wall-clock time of the accept, microseconds since the epoch
 * @param client the remote end of the TCP connection
 * @param local the address and port the client connected to
 * @param kind what the message is (see docs/PROTOCOL.md, "Taking over from a running app")
 * @param pendingBytes for {@link Kind#MIGRATED}: how many bytes the old app read from the client
 *     and had not yet echoed; they follow the header on the link
 * @param stateBytes for {@link Kind#MIGRATED}: the length of the connection's exported handler
 *     state, which follows the unsent bytes
 * @param origin the client a trusted load balancer (the {@code client} here) spoke for in a PROXY
 *     protocol header, or {@code null} when the connection came straight from its client
 */
public record HandoffHeader(long connectionId, long acceptedAtMicros, InetSocketAddress client,
    InetSocketAddress local, Kind kind, long pendingBytes, long stateBytes,
    OriginalClient origin) {

  /** What a message on a link is; carried in the header's flags byte. */
  public enum Kind {
    /** A connection a proxy accepted (flags 0). */
    CONNECTION(0),
    /** A new app asks the running one to hand everything over (flag 1); no descriptor. */
    TAKEOVER(1),
    /** A connection an old app hands to its successor, with its unsent bytes (flag 2). */
    MIGRATED(2),
    /**
     * Two-phase take-over, first phase: a copy of a connection's descriptor that the old app still
     * serves (flag 3); the successor holds it, serving nothing, until the connection is switched.
     */
    PREPARED(3),
    /**
     * Two-phase take-over, second phase: the connection sent as PREPARED with this id is paused on
     * the old app; its unsent bytes and handler state follow, as for MIGRATED (flag 4); no
     * descriptor.
     */
    SWITCHED(4),
    /**
     * Two-phase take-over, second phase: the connection sent as PREPARED with this id does not
     * move (it closed, or it must finish on the old app); the successor closes its copy (flag 5);
     * no descriptor.
     */
    DROPPED(5),
    /**
     * Two-phase take-over, first phase, several copies in one message (flag 6): the header's
     * connection id is their number, its unsent-bytes count the length of their PREPARED headers,
     * which follow it one after the other, and the descriptors ride on it, one per copy, in the
     * order of those headers. Sent only to a successor that asked for it.
     */
    COPIES(6),
    /**
     * Two-phase take-over, second phase, several connections in one message (flag 7): the
     * header's connection id is their number, its unsent-bytes count the length of their SWITCHED
     * and DROPPED messages, which follow it one after the other, each with its bytes and state;
     * no descriptor. Sent only to a successor that asked for it.
     */
    SWITCHES(7);

    final int flag;

    Kind(int flag) {
      this.flag = flag;
    }
  }

  public HandoffHeader {
    Objects.requireNonNull(client, "client");
    Objects.requireNonNull(local, "local");
    Objects.requireNonNull(kind, "kind");
  }

  /** A header without an original client. */
  public HandoffHeader(long connectionId, long acceptedAtMicros, InetSocketAddress client,
      InetSocketAddress local, Kind kind, long pendingBytes, long stateBytes) {
    this(connectionId, acceptedAtMicros, client, local, kind, pendingBytes, stateBytes, null);
  }

  /** A header without handler state. */
  public HandoffHeader(long connectionId, long acceptedAtMicros, InetSocketAddress client,
      InetSocketAddress local, Kind kind, long pendingBytes) {
    this(connectionId, acceptedAtMicros, client, local, kind, pendingBytes, 0);
  }

  /** A connection as a proxy hands it over. */
  public HandoffHeader(long connectionId, long acceptedAtMicros, InetSocketAddress client,
      InetSocketAddress local) {
    this(connectionId, acceptedAtMicros, client, local, Kind.CONNECTION, 0);
  }

  /** A connection as a proxy hands it over, from a client a load balancer spoke for. */
  public HandoffHeader(long connectionId, long acceptedAtMicros, InetSocketAddress client,
      InetSocketAddress local, OriginalClient origin) {
    this(connectionId, acceptedAtMicros, client, local, Kind.CONNECTION, 0, 0, origin);
  }

  /**
   * The client to report: the original one a load balancer spoke for if there is one, else the
   * TCP peer.
   */
  public InetSocketAddress effectiveClient() {
    return origin != null ? origin.address() : client;
  }

  /** The same connection, as an old app hands it to its successor with its unsent bytes. */
  public HandoffHeader migrated(long pending) {
    return migrated(pending, 0);
  }

  /** The same connection as a message of {@code kind} with these byte counts. */
  public HandoffHeader as(Kind kind, long pending, long state) {
    return new HandoffHeader(connectionId, acceptedAtMicros, client, local, kind, pending, state,
        origin);
  }

  /** Whether unsent bytes and handler state follow this header on the link. */
  public boolean carriesBytes() {
    return kind == Kind.MIGRATED || kind == Kind.SWITCHED || kind == Kind.COPIES
        || kind == Kind.SWITCHES;
  }

  /** As {@link #migrated(long)}, with {@code state} bytes of exported handler state after them. */
  public HandoffHeader migrated(long pending, long state) {
    return new HandoffHeader(connectionId, acceptedAtMicros, client, local, Kind.MIGRATED,
        pending, state, origin);
  }

  @Override
  public String toString() {
    return "c" + connectionId + " " + client + " -> " + local
        + (origin == null ? "" : " (for " + origin.address() + ")")
        + (kind == Kind.CONNECTION ? "" : " (" + kind + ")");
  }
}
