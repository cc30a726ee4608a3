package dev.handoff.proxy.route;

import java.util.List;

/**
 * What a parser of a connection's first bytes found: a verdict, and for {@link Verdict#FOUND} the
 * fields a {@link Rule} matches on. Immutable; the only object a parser allocates.
 *
 * @param verdict what the bytes say so far
 * @param protocol the protocol recognised, or {@code null} unless {@link Verdict#FOUND}
 * @param serverName the TLS server name (SNI), lower case without a trailing dot, or {@code null}
 * @param alpn the ALPN protocols the client offers, in its order; empty if none
 * @param host the HTTP Host, lower case, without port or trailing dot, or {@code null}
 * @param path the HTTP request path (no query), or {@code null}
 */
public record FirstBytes(Verdict verdict, Protocol protocol, String serverName, List<String> alpn,
    String host, String path) {

  /** The verdict of a parser over the bytes seen so far. */
  public enum Verdict {
    /** A prefix of a valid message of this protocol: peek again when more has arrived. */
    NEED_MORE,
    /** The message is complete and valid; its fields are filled in. */
    FOUND,
    /** The bytes are not this protocol (another parser may know them). */
    NOT_THIS_PROTOCOL,
    /** The bytes claim to be this protocol but break its rules (a length out of bounds...). */
    MALFORMED
  }

  /** The protocols recognised. */
  public enum Protocol {
    /** A TLS ClientHello. */
    TLS,
    /** An HTTP/1.x request head. */
    HTTP
  }

  /** The result with no fields, for every verdict but {@link Verdict#FOUND}. */
  public static final FirstBytes NEED_MORE = new FirstBytes(Verdict.NEED_MORE, null, null,
      List.of(), null, null);
  /** See {@link Verdict#NOT_THIS_PROTOCOL}. */
  public static final FirstBytes NOT_THIS_PROTOCOL = new FirstBytes(Verdict.NOT_THIS_PROTOCOL,
      null, null, List.of(), null, null);
  /** See {@link Verdict#MALFORMED}. */
  public static final FirstBytes MALFORMED = new FirstBytes(Verdict.MALFORMED, null, null,
      List.of(), null, null);

  /** A complete TLS ClientHello's fields. */
  static FirstBytes tls(String serverName, List<String> alpn) {
    return new FirstBytes(Verdict.FOUND, Protocol.TLS, serverName, alpn, null, null);
  }

  /** A complete HTTP request head's fields. */
  static FirstBytes http(String host, String path) {
    return new FirstBytes(Verdict.FOUND, Protocol.HTTP, null, List.of(), host, path);
  }

  /**
   * Tries the TLS parser, then the HTTP one, on {@code length} bytes from the start of
   * {@code bytes} (absolute reads; position and limit untouched).
   *
   * @return the first verdict other than {@link Verdict#NOT_THIS_PROTOCOL}, or that one if no
   *     parser knows the bytes
   */
  public static FirstBytes parse(java.nio.ByteBuffer bytes, int length) {
    FirstBytes tls = ClientHelloParser.parse(bytes, length);
    if (tls.verdict() != Verdict.NOT_THIS_PROTOCOL) {
      return tls;
    }
    return HttpHeadParser.parse(bytes, length);
  }
}
