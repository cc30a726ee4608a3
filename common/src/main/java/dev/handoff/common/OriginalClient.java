package dev.handoff.common;

import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * The client a load balancer in front of the proxy spoke for, as its PROXY protocol header said
 * (proxy option {@code --proxy-protocol-from}): carried in the handoff header next to the real TCP
 * peer, which is then the balancer. Layout in docs/PROTOCOL.md, "The original client".
 *
 * @param address the original client's address and port
 * @param authority the server name the client asked for (PROXY v2 TLV PP2_TYPE_AUTHORITY, at most
 *     {@value HeaderCodec#MAX_AUTHORITY} bytes of UTF-8), or {@code null}
 * @param uniqueId the balancer's id of the connection (PROXY v2 TLV PP2_TYPE_UNIQUE_ID, at most
 *     {@value HeaderCodec#MAX_UNIQUE_ID} bytes), or {@code null}; not to be modified
 */
public record OriginalClient(InetSocketAddress address, String authority, byte[] uniqueId) {

  /** Checks the sizes the header can carry. */
  public OriginalClient {
    Objects.requireNonNull(address, "address");
    if (address.getAddress() == null) {
      throw new IllegalArgumentException("unresolved address " + address);
    }
    if (authority != null && (authority.isEmpty() || authority.getBytes(
        java.nio.charset.StandardCharsets.UTF_8).length > HeaderCodec.MAX_AUTHORITY)) {
      throw new IllegalArgumentException("authority of 1 to " + HeaderCodec.MAX_AUTHORITY
          + " bytes expected");
    }
    if (uniqueId != null && (uniqueId.length == 0 || uniqueId.length > HeaderCodec.MAX_UNIQUE_ID)) {
      throw new IllegalArgumentException("unique id of 1 to " + HeaderCodec.MAX_UNIQUE_ID
          + " bytes expected");
    }
  }

  /** The unique id in hexadecimal, or {@code null}: for logs. */
  public String uniqueIdHex() {
    return uniqueId == null ? null : java.util.HexFormat.of().formatHex(uniqueId);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof OriginalClient other && address.equals(other.address)
        && Objects.equals(authority, other.authority)
        && java.util.Arrays.equals(uniqueId, other.uniqueId);
  }

  @Override
  public int hashCode() {
    return Objects.hash(address, authority, java.util.Arrays.hashCode(uniqueId));
  }

  @Override
  public String toString() {
    return address + (authority == null ? "" : " authority=" + authority)
        + (uniqueId == null ? "" : " unique-id=" + uniqueIdHex());
  }
}
