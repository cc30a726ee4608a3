package dev.handoff.proxy.route;

import java.nio.ByteBuffer;

/**
 * Reads the Host and the path out of an HTTP/1.x request head, from the first bytes of a
 * connection. A pure function: it never throws on any input and allocates only its result.
 *
 * <p>Only a request line that starts with a standard method (GET, HEAD, POST, PUT, DELETE,
 * CONNECT, OPTIONS, TRACE, PATCH) followed by a space counts as HTTP; anything else is
 * {@link FirstBytes.Verdict#NOT_THIS_PROTOCOL}, so a line-based protocol that happens to start
 * with a capital word is not called malformed. The head must end (an empty line) before the
 * verdict is FOUND, so that two Host headers (a 400 in RFC 9112) are seen and called MALFORMED.
 * An absolute-form target ({@code GET http://host/path}) gives the host, as RFC 9112 says; a head
 * without a Host is FOUND with a null host. The caller bounds the size (the peek limit).
 */
public final class HttpHeadParser {
  private static final String[] METHODS = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"
  };
  private static final byte[] VERSION = {'H', 'T', 'T', 'P', '/', '1', '.'};

  private HttpHeadParser() {}

  /**
   * Parses {@code length} bytes from index 0 of {@code bytes} (absolute reads).
   *
   * @return NOT_THIS_PROTOCOL unless the bytes start with a method and a space; NEED_MORE for a
   *     valid prefix of a head; MALFORMED for a head that breaks HTTP/1.x; else FOUND with the
   *     host (or null) and the path
   */
  public static FirstBytes parse(ByteBuffer bytes, int length) {
    length = Math.min(length, bytes.capacity());
    // Method: a prefix of a known method so far, then a space.
    int i = 0;
    while (i < length && bytes.get(i) != ' ') {
      i++;
      if (i > 7) {
        return FirstBytes.NOT_THIS_PROTOCOL;
      }
    }
    if (!methodPrefix(bytes, i, i < length)) {
      return FirstBytes.NOT_THIS_PROTOCOL;
    }
    if (i == length) {
      return FirstBytes.NEED_MORE;
    }
    int targetStart = ++i;
    while (i < length && bytes.get(i) != ' ') {
      int c = bytes.get(i) & 0xff;
      if (c <= 0x20 || c >= 0x7f) {
        return FirstBytes.MALFORMED;
      }
      i++;
    }
    if (i == length) {
      return FirstBytes.NEED_MORE;
    }
    int targetEnd = i;
    if (targetEnd == targetStart) {
      return FirstBytes.MALFORMED;
    }
    i++;
    for (int k = 0; k < VERSION.length + 1; k++, i++) {
      if (i == length) {
        return FirstBytes.NEED_MORE;
      }
      int c = bytes.get(i);
      if (k < VERSION.length ? c != VERSION[k] : c < '0' || c > '9') {
        return FirstBytes.MALFORMED;
      }
    }
    i = lineEnd(bytes, i, length);
    if (i < 0) {
      return i == -1 ? FirstBytes.NEED_MORE : FirstBytes.MALFORMED;
    }
    // Header fields, up to the empty line.
    int hostStart = -1;
    int hostEnd = -1;
    while (true) {
      if (i == length) {
        return FirstBytes.NEED_MORE;
      }
      int c = bytes.get(i);
      if (c == '\r' || c == '\n') {
        int end = lineEnd(bytes, i, length);
        if (end < 0) {
          return end == -1 ? FirstBytes.NEED_MORE : FirstBytes.MALFORMED;
        }
        break; // the empty line: the head is complete
      }
      int nameStart = i;
      while (i < length && bytes.get(i) != ':') {
        if (!tokenChar(bytes.get(i) & 0xff)) {
          return FirstBytes.MALFORMED; // also an obs-fold line or a space before the colon
        }
        i++;
      }
      if (i == length) {
        return FirstBytes.NEED_MORE;
      }
      int nameEnd = i++;
      if (nameEnd == nameStart) {
        return FirstBytes.MALFORMED;
      }
      int valueStart = i;
      while (i < length && bytes.get(i) != '\r' && bytes.get(i) != '\n') {
        int v = bytes.get(i) & 0xff;
        if (v < 0x20 && v != '\t' || v == 0x7f) {
          return FirstBytes.MALFORMED;
        }
        i++;
      }
      int valueEnd = i;
      i = lineEnd(bytes, i, length);
      if (i < 0) {
        return i == -1 ? FirstBytes.NEED_MORE : FirstBytes.MALFORMED;
      }
      if (nameEnd - nameStart == 4 && equalsIgnoreCase(bytes, nameStart, "host")) {
        if (hostStart >= 0) {
          return FirstBytes.MALFORMED; // two Host fields
        }
        while (valueStart < valueEnd && isSpace(bytes.get(valueStart))) {
          valueStart++;
        }
        while (valueEnd > valueStart && isSpace(bytes.get(valueEnd - 1))) {
          valueEnd--;
        }
        hostStart = valueStart;
        hostEnd = valueEnd;
      }
    }
    return found(bytes, targetStart, targetEnd, hostStart, hostEnd);
  }

  private static FirstBytes found(ByteBuffer b, int targetStart, int targetEnd, int hostStart,
      int hostEnd) {
    int pathStart = targetStart;
    int schemeEnd = -1;
    if (startsWithIgnoreCase(b, targetStart, targetEnd, "http://")) {
      schemeEnd = targetStart + 7;
    } else if (startsWithIgnoreCase(b, targetStart, targetEnd, "https://")) {
      schemeEnd = targetStart + 8;
    }
    if (schemeEnd >= 0) { // absolute form: its authority is the host
      int authorityEnd = schemeEnd;
      while (authorityEnd < targetEnd && b.get(authorityEnd) != '/'
          && b.get(authorityEnd) != '?' && b.get(authorityEnd) != '#') {
        authorityEnd++;
      }
      hostStart = schemeEnd;
      hostEnd = authorityEnd;
      pathStart = authorityEnd;
    }
    String host = null;
    if (hostStart >= 0 && hostEnd > hostStart) {
      host = host(b, hostStart, hostEnd);
      if (host == null) {
        return FirstBytes.MALFORMED;
      }
    }
    int pathEnd = pathStart;
    while (pathEnd < targetEnd && b.get(pathEnd) != '?' && b.get(pathEnd) != '#') {
      pathEnd++;
    }
    String path;
    if (pathEnd == pathStart) {
      path = "/";
    } else {
      char[] chars = new char[pathEnd - pathStart];
      for (int k = 0; k < chars.length; k++) {
        chars[k] = (char) (b.get(pathStart + k) & 0xff);
      }
      path = new String(chars);
    }
    return FirstBytes.http(host, path);
  }

  /** A Host value without its port: a name, or an IP literal (IPv6 in brackets). */
  private static String host(ByteBuffer b, int from, int to) {
    int userinfo = -1;
    for (int k = from; k < to; k++) {
      if (b.get(k) == '@') {
        userinfo = k;
      }
    }
    if (userinfo >= 0) {
      from = userinfo + 1;
    }
    if (from < to && b.get(from) == '[') {
      int close = from;
      while (close < to && b.get(close) != ']') {
        close++;
      }
      if (close == to || !portOrNothing(b, close + 1, to)) {
        return null;
      }
      char[] chars = new char[close + 1 - from];
      for (int k = 0; k < chars.length; k++) {
        int c = b.get(from + k) & 0xff;
        if (!(c == '[' || c == ']' || c == ':' || c == '.' || Character.digit(c, 16) >= 0)) {
          return null;
        }
        chars[k] = Character.toLowerCase((char) c);
      }
      return new String(chars);
    }
    int colon = to;
    for (int k = from; k < to; k++) {
      if (b.get(k) == ':') {
        colon = k;
        break;
      }
    }
    if (!portOrNothing(b, colon, to)) {
      return null;
    }
    return Names.normalise(b, from, colon);
  }

  /** Whether {@code b[from, to)} is empty or ':' and up to 5 digits. */
  private static boolean portOrNothing(ByteBuffer b, int from, int to) {
    if (from == to) {
      return true;
    }
    if (b.get(from) != ':' || to - from > 6) {
      return false;
    }
    for (int k = from + 1; k < to; k++) {
      if (b.get(k) < '0' || b.get(k) > '9') {
        return false;
      }
    }
    return true;
  }

  /**
   * The index after the line ending at {@code i} (CRLF or a bare LF); -1 if it has not all
   * arrived, -2 if the bytes at {@code i} are not a line end.
   */
  private static int lineEnd(ByteBuffer b, int i, int length) {
    if (i == length) {
      return -1;
    }
    if (b.get(i) == '\n') {
      return i + 1;
    }
    if (b.get(i) != '\r') {
      return -2;
    }
    if (i + 1 == length) {
      return -1;
    }
    return b.get(i + 1) == '\n' ? i + 2 : -2;
  }

  private static boolean methodPrefix(ByteBuffer b, int n, boolean complete) {
    if (n == 0) {
      return !complete; // nothing yet; a leading space is not HTTP
    }
    for (String m : METHODS) {
      if (complete ? m.length() == n : m.length() >= n) {
        boolean same = true;
        for (int k = 0; k < n && same; k++) {
          same = b.get(k) == m.charAt(k);
        }
        if (same) {
          return true;
        }
      }
    }
    return false;
  }

  private static boolean tokenChar(int c) {
    return c > 0x20 && c < 0x7f && "\"(),/:;<=>?@[\\]{}".indexOf(c) < 0;
  }

  private static boolean isSpace(byte c) {
    return c == ' ' || c == '\t';
  }

  private static boolean equalsIgnoreCase(ByteBuffer b, int from, String lower) {
    for (int k = 0; k < lower.length(); k++) {
      int c = b.get(from + k) & 0xff;
      if (c >= 'A' && c <= 'Z') {
        c += 'a' - 'A';
      }
      if (c != lower.charAt(k)) {
        return false;
      }
    }
    return true;
  }

  private static boolean startsWithIgnoreCase(ByteBuffer b, int from, int to, String lower) {
    return to - from >= lower.length() && equalsIgnoreCase(b, from, lower);
  }
}
