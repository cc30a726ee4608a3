package dev.handoff.proxy.route;

import java.nio.ByteBuffer;
import java.util.Locale;

/**
 * Host names as routes compare them: ASCII letters, digits, '-', '_' and '.', lower case, without
 * a trailing dot, no empty label. One place, so that a server name, a Host header and a rule agree.
 */
final class Names {
  private Names() {}

  /** The name in {@code b[from, to)} normalised, or {@code null} if it is not a host name. */
  static String normalise(ByteBuffer b, int from, int to) {
    if (to > from && b.get(to - 1) == '.') {
      to--; // "example.com." is "example.com"
    }
    if (to <= from || to - from > 255) {
      return null;
    }
    char[] chars = new char[to - from];
    char previous = '.';
    for (int i = from; i < to; i++) {
      int c = b.get(i) & 0xff;
      if (c >= 'A' && c <= 'Z') {
        c += 'a' - 'A';
      } else if (!(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
          || c == '.')) {
        return null;
      }
      if (c == '.' && previous == '.') {
        return null; // an empty label
      }
      previous = (char) c;
      chars[i - from] = (char) c;
    }
    return new String(chars);
  }

  /** {@link #normalise(ByteBuffer, int, int)} of a string; null if it is not a host name. */
  static String normalise(String name) {
    byte[] ascii = name.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
    if (ascii.length != name.length() || !name.equals(new String(ascii,
        java.nio.charset.StandardCharsets.ISO_8859_1))) {
      return null;
    }
    return normalise(ByteBuffer.wrap(ascii), 0, ascii.length);
  }

  /** Lower case, for names already checked. */
  static String lower(String s) {
    return s.toLowerCase(Locale.ROOT);
  }
}
