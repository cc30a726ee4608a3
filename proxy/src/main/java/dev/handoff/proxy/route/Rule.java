package dev.handoff.proxy.route;

/**
 * What a route matches, parsed from its text: {@code sni:NAME}, {@code alpn:PROTO},
 * {@code host:NAME} or {@code host:NAME/PATH}, or {@code default}.
 *
 * <ul>
 *   <li>{@code sni:NAME} matches a TLS ClientHello whose server name is NAME. Case does not
 *       matter and a trailing dot is ignored. {@code sni:*.example.com} matches a name with
 *       exactly one more label ({@code a.example.com}, not {@code example.com} nor
 *       {@code a.b.example.com}), as a wildcard certificate does.
 *   <li>{@code alpn:PROTO} matches a ClientHello that offers PROTO among its ALPN protocols
 *       (exact, case-sensitive, as ALPN identifiers are bytes).
 *   <li>{@code host:NAME} matches an HTTP/1.x request whose Host is NAME (its port ignored; names
 *       as for sni, wildcard included). {@code host:NAME/PATH} also needs the path to be /PATH or
 *       to start with /PATH/ (whole segments: {@code /api} matches {@code /api/v1}, not
 *       {@code /apix}).
 *   <li>{@code default} matches every connection.
 * </ul>
 *
 * @param kind what is compared
 * @param name the server name, host (lower case; may start with {@code *.}) or ALPN protocol;
 *     null for default
 * @param pathPrefix for host rules with a path, the path without a trailing slash; else null
 * @param text the rule as written, which names the route
 */
public record Rule(Kind kind, String name, String pathPrefix, String text) {

  /** The kinds of rule. */
  public enum Kind {
    /** TLS server name. */
    SNI,
    /** TLS ALPN protocol offered. */
    ALPN,
    /** HTTP Host (and path prefix). */
    HOST,
    /** Everything. */
    DEFAULT
  }

  /** The rule that matches every connection. */
  public static final Rule DEFAULT = new Rule(Kind.DEFAULT, null, null, "default");

  /**
   * Parses a rule.
   *
   * @throws IllegalArgumentException with a message saying what is wrong, to show to a user
   */
  public static Rule parse(String text) {
    if (text.equals("default")) {
      return DEFAULT;
    }
    int colon = text.indexOf(':');
    if (colon < 0) {
      throw new IllegalArgumentException("'" + text + "' is not a rule: expected sni:NAME,"
          + " alpn:PROTO, host:NAME[/PATH] or default");
    }
    String kind = text.substring(0, colon);
    String value = text.substring(colon + 1);
    switch (kind) {
      case "sni":
        return new Rule(Kind.SNI, hostPattern(value, text), null, text);
      case "alpn":
        if (value.isEmpty() || value.length() > 255
            || !value.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
          throw new IllegalArgumentException("'" + text + "': an ALPN protocol is 1 to 255"
              + " printable ASCII characters, such as h2 or http/1.1");
        }
        return new Rule(Kind.ALPN, value, null, text);
      case "host":
        int slash = value.indexOf('/');
        String host = slash < 0 ? value : value.substring(0, slash);
        String path = null;
        if (slash >= 0) {
          path = value.substring(slash);
          while (path.length() > 1 && path.endsWith("/")) {
            path = path.substring(0, path.length() - 1);
          }
          if (path.equals("/")) {
            path = null; // every path
          } else if (!path.chars().allMatch(c -> c > 0x20 && c < 0x7f && c != '?' && c != '#')) {
            throw new IllegalArgumentException("'" + text + "': the path may hold printable"
                + " ASCII but no space, '?' or '#'");
          }
        }
        return new Rule(Kind.HOST, hostPattern(host, text), path, text);
      default:
        throw new IllegalArgumentException("'" + text + "': unknown rule kind '" + kind
            + "'; expected sni, alpn, host or default");
    }
  }

  private static String hostPattern(String value, String text) {
    boolean wildcard = value.startsWith("*.");
    String rest = wildcard ? value.substring(2) : value;
    String name = Names.normalise(rest);
    if (name == null) {
      throw new IllegalArgumentException("'" + text + "': '" + value + "' is not a host name"
          + " (letters, digits, '-', '_' and '.', optionally starting with '*.')");
    }
    return wildcard ? "*." + name : name;
  }

  /** Whether a connection whose first bytes gave {@code found} matches this rule. */
  public boolean matches(FirstBytes found) {
    switch (kind) {
      case DEFAULT:
        return true;
      case SNI:
        return found.serverName() != null && nameMatches(found.serverName());
      case ALPN:
        return found.alpn().contains(name);
      case HOST:
        return found.host() != null && nameMatches(found.host())
            && (pathPrefix == null || pathMatches(found.path()));
      default:
        return false;
    }
  }

  private boolean nameMatches(String candidate) {
    if (!name.startsWith("*.")) {
      return name.equals(candidate);
    }
    String suffix = name.substring(1); // ".example.com"
    int dot = candidate.indexOf('.');
    return dot > 0 && candidate.substring(dot).equals(suffix);
  }

  private boolean pathMatches(String path) {
    return path != null && path.startsWith(pathPrefix)
        && (path.length() == pathPrefix.length() || path.charAt(pathPrefix.length()) == '/');
  }

  @Override
  public String toString() {
    return text;
  }
}
