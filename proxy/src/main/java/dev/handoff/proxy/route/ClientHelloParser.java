package dev.handoff.proxy.route;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the server name (SNI) and the ALPN protocols out of a TLS ClientHello, from the first
 * bytes of a connection. A pure function: it never throws on any input, checks every length
 * against its enclosing one, and allocates only its result (and, for a ClientHello split over
 * several TLS records, one array to join the pieces).
 *
 * <p>The ClientHello may span several TLS records (each at most 2^14 bytes) and any number of TCP
 * segments: until the whole handshake message has arrived the verdict is
 * {@link FirstBytes.Verdict#NEED_MORE}. Bytes after the ClientHello are not looked at.
 */
public final class ClientHelloParser {
  private static final int CONTENT_HANDSHAKE = 22;
  private static final int HANDSHAKE_CLIENT_HELLO = 1;
  private static final int MAX_FRAGMENT = 1 << 14;
  private static final int EXT_SERVER_NAME = 0;
  private static final int EXT_ALPN = 16;
  private static final int MAX_HOST_NAME = 255;

  private ClientHelloParser() {}

  /**
   * Parses {@code length} bytes from index 0 of {@code bytes} (absolute reads: the buffer's
   * position and limit are not used or changed).
   *
   * @return NOT_THIS_PROTOCOL unless the bytes start like a TLS handshake record; NEED_MORE for a
   *     valid prefix; MALFORMED for a broken length, record or extension; else FOUND with the
   *     server name (or null) and the ALPN protocols (or none)
   */
  public static FirstBytes parse(ByteBuffer bytes, int length) {
    length = Math.min(length, bytes.capacity());
    if (length < 1) {
      return FirstBytes.NEED_MORE;
    }
    if (u8(bytes, 0) != CONTENT_HANDSHAKE) {
      return FirstBytes.NOT_THIS_PROTOCOL;
    }
    if (length >= 2 && u8(bytes, 1) != 3) {
      return FirstBytes.NOT_THIS_PROTOCOL; // TLS and SSL 3 record versions are 3.x
    }
    // Walk the records: their fragments, joined, are the handshake stream.
    int available = 0; // handshake bytes in complete or partial fragments
    int needed = -1; // 4 + the ClientHello's length, once its header has arrived
    int records = 0;
    int firstFragmentLength = 0;
    int at = 0;
    while (at < length && (needed < 0 || available < needed)) {
      if (at + 5 > length) {
        if (u8(bytes, at) != CONTENT_HANDSHAKE) {
          return FirstBytes.MALFORMED;
        }
        return FirstBytes.NEED_MORE;
      }
      int fragment = u16(bytes, at + 3);
      if (u8(bytes, at) != CONTENT_HANDSHAKE || u8(bytes, at + 1) != 3 || u8(bytes, at + 2) > 4
          || fragment == 0 || fragment > MAX_FRAGMENT) {
        return FirstBytes.MALFORMED;
      }
      int start = at + 5;
      int present = Math.min(fragment, length - start);
      if (records == 0) {
        firstFragmentLength = fragment;
      }
      records++;
      available += present;
      if (needed < 0 && available >= 4) {
        needed = 4 + handshakeLength(bytes, length);
        if (needed < 4) {
          return FirstBytes.MALFORMED;
        }
      }
      at = start + fragment;
    }
    if (needed < 0 || available < needed) {
      return FirstBytes.NEED_MORE;
    }
    if (records == 1 || firstFragmentLength >= needed) {
      return body(bytes, 5 + 4, 5 + needed); // the whole message in the first record
    }
    // Rare: the message spans records. Join the fragments.
    byte[] joined = new byte[needed];
    int copied = 0;
    at = 0;
    while (copied < needed) {
      int fragment = u16(bytes, at + 3);
      int n = Math.min(fragment, needed - copied);
      bytes.get(at + 5, joined, copied, n);
      copied += n;
      at += 5 + fragment;
    }
    return body(ByteBuffer.wrap(joined), 4, needed);
  }

  /**
   * The ClientHello's 24-bit length from the first 4 handshake bytes, which may straddle records;
   * -1 if the message is not a ClientHello.
   */
  private static int handshakeLength(ByteBuffer bytes, int length) {
    int got = 0;
    int value = 0;
    int at = 0;
    int type = -1;
    while (got < 4 && at + 5 <= length) {
      int fragment = u16(bytes, at + 3);
      int end = Math.min(at + 5 + fragment, length);
      for (int i = at + 5; i < end && got < 4; i++, got++) {
        if (got == 0) {
          type = u8(bytes, i);
        } else {
          value = value << 8 | u8(bytes, i);
        }
      }
      at += 5 + fragment;
    }
    return got == 4 && type == HANDSHAKE_CLIENT_HELLO ? value : -5;
  }

  /** The ClientHello body from {@code p} to {@code end}, which must be its exact end. */
  private static FirstBytes body(ByteBuffer b, int p, int end) {
    if (p + 2 + 32 + 1 > end) {
      return FirstBytes.MALFORMED;
    }
    p += 2 + 32; // legacy_version, random
    int sessionId = u8(b, p++);
    if (sessionId > 32 || p + sessionId + 2 > end) {
      return FirstBytes.MALFORMED;
    }
    p += sessionId;
    int suites = u16(b, p);
    p += 2;
    if (suites < 2 || (suites & 1) != 0 || p + suites + 1 > end) {
      return FirstBytes.MALFORMED;
    }
    p += suites;
    int compressions = u8(b, p++);
    if (compressions < 1 || p + compressions > end) {
      return FirstBytes.MALFORMED;
    }
    p += compressions;
    if (p == end) {
      return FirstBytes.tls(null, List.of()); // no extensions at all
    }
    if (p + 2 > end) {
      return FirstBytes.MALFORMED;
    }
    int extensions = u16(b, p);
    p += 2;
    if (p + extensions != end) {
      return FirstBytes.MALFORMED;
    }
    String serverName = null;
    boolean sawServerName = false;
    List<String> alpn = null;
    while (p < end) {
      if (p + 4 > end) {
        return FirstBytes.MALFORMED;
      }
      int type = u16(b, p);
      int len = u16(b, p + 2);
      p += 4;
      if (p + len > end) {
        return FirstBytes.MALFORMED;
      }
      if (type == EXT_SERVER_NAME) {
        if (sawServerName) {
          return FirstBytes.MALFORMED;
        }
        sawServerName = true;
        serverName = serverName(b, p, p + len);
        if (serverName == null) {
          return FirstBytes.MALFORMED;
        }
      } else if (type == EXT_ALPN) {
        if (alpn != null) {
          return FirstBytes.MALFORMED;
        }
        alpn = alpn(b, p, p + len);
        if (alpn == null) {
          return FirstBytes.MALFORMED;
        }
      }
      p += len;
    }
    return FirstBytes.tls(serverName, alpn == null ? List.of() : alpn);
  }

  /** The host_name of a server_name extension, normalised; null if malformed. */
  private static String serverName(ByteBuffer b, int p, int end) {
    if (p + 2 > end || p + 2 + u16(b, p) != end) {
      return null;
    }
    p += 2;
    String name = null;
    while (p < end) {
      if (p + 3 > end) {
        return null;
      }
      int type = u8(b, p);
      int len = u16(b, p + 1);
      p += 3;
      if (len == 0 || p + len > end) {
        return null;
      }
      if (type == 0) {
        if (name != null || len > MAX_HOST_NAME + 1) {
          return null; // one host_name at most (RFC 6066, section 3)
        }
        name = Names.normalise(b, p, p + len);
        if (name == null) {
          return null;
        }
      }
      p += len;
    }
    return name;
  }

  /** The protocol names of an ALPN extension; null if malformed. */
  private static List<String> alpn(ByteBuffer b, int p, int end) {
    if (p + 2 > end || p + 2 + u16(b, p) != end || end - p < 4) {
      return null;
    }
    p += 2;
    List<String> names = new ArrayList<>(4);
    while (p < end) {
      int len = u8(b, p++);
      if (len == 0 || p + len > end) {
        return null;
      }
      char[] chars = new char[len];
      for (int i = 0; i < len; i++) {
        chars[i] = (char) u8(b, p + i);
      }
      names.add(new String(chars));
      p += len;
    }
    return List.copyOf(names);
  }

  private static int u8(ByteBuffer b, int i) {
    return b.get(i) & 0xff;
  }

  private static int u16(ByteBuffer b, int i) {
    return (b.get(i) & 0xff) << 8 | (b.get(i + 1) & 0xff);
  }
}
