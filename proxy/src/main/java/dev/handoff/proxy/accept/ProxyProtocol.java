package dev.handoff.proxy.accept;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * A strict parser of the PROXY protocol header, versions 1 (text) and 2 (binary), that a load
 * balancer sends before the client's first byte (HAProxy's proxy-protocol.txt). It is a pure
 * function over the bytes seen so far: it never consumes, never blocks, never allocates more than
 * the header, and never reads past {@code len}, so the caller can peek (MSG_PEEK) at the start of
 * a stream, learn the exact header length, and then read exactly that many bytes.
 *
 * <p>What it accepts: v1 {@code TCP4}, {@code TCP6} and {@code UNKNOWN} lines of at most
 * {@value #V1_MAX_LENGTH} bytes with canonical addresses and single spaces; v2 headers of at most
 * {@value #MAX_LENGTH} bytes with the LOCAL or PROXY command, the families UNSPEC, INET, INET6 and
 * UNIX over a stream transport, and well-formed TLVs (a CRC32C TLV is checked; the authority and
 * unique id are kept). Everything else that starts with a signature is {@link Status#MALFORMED}.
 */
public final class ProxyProtocol {
  /** The longest v1 line, CRLF included (the specification's figure). */
  public static final int V1_MAX_LENGTH = 107;
  /** The most bytes a v2 header may take, its 16-byte prefix included. */
  public static final int MAX_LENGTH = 1024;
  /** The fixed part of a v2 header: signature, version and command, family, length. */
  public static final int V2_PREFIX_LENGTH = 16;
  /** The longest unique id a v2 header may carry (PP2_TYPE_UNIQUE_ID, at most 128 bytes). */
  public static final int MAX_UNIQUE_ID = 128;
  /** The longest authority (server name) kept: a DNS name is at most 255 bytes. */
  public static final int MAX_AUTHORITY = 255;

  private static final byte[] V1_SIGNATURE = "PROXY ".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] V2_SIGNATURE = {
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
  private static final int PP2_TYPE_AUTHORITY = 0x02;
  private static final int PP2_TYPE_CRC32C = 0x03;
  private static final int PP2_TYPE_UNIQUE_ID = 0x05;
  private static final Result NEED_MORE = new Result(Status.NEED_MORE, 0, null, null);
  private static final Result NOT_PROXY = new Result(Status.NOT_PROXY, 0, null, null);

  private ProxyProtocol() {}

  /** What the bytes seen so far are. */
  public enum Status {
    /** A prefix of a PROXY header (or of its signature): more bytes are needed to decide. */
    NEED_MORE,
    /** The stream does not start with a PROXY header signature. */
    NOT_PROXY,
    /** The stream starts with a signature but what follows breaks the specification. */
    MALFORMED,
    /** A complete, valid header: see {@link Result#length()} and {@link Result#header()}. */
    PROXY
  }

  /**
   * The outcome of {@link #parse}.
   *
   * @param status what the bytes are
   * @param length for {@link Status#PROXY}: the exact number of bytes the header takes
   * @param header for {@link Status#PROXY}: what it says
   * @param problem for {@link Status#MALFORMED}: what is wrong, for a log line
   */
  public record Result(Status status, int length, Header header, String problem) {}

  /**
   * A valid header's content.
   *
   * @param version 1 or 2
   * @param local the v2 LOCAL command (a health check of the balancer itself), or v1
   *     {@code UNKNOWN}: the connection's own addresses stand
   * @param source the original client, or {@code null} when the header gives no address (LOCAL,
   *     UNKNOWN, UNSPEC, UNIX)
   * @param destination the address the client connected to, or {@code null} as for source
   * @param authority the v2 PP2_TYPE_AUTHORITY TLV (the TLS server name the client asked for), or
   *     {@code null}
   * @param uniqueId the v2 PP2_TYPE_UNIQUE_ID TLV, or {@code null}; callers must not modify it
   */
  public record Header(int version, boolean local, InetSocketAddress source,
      InetSocketAddress destination, String authority, byte[] uniqueId) {

    @Override
    public String toString() {
      return "PROXY v" + version + (local ? " LOCAL" : " " + source + " -> " + destination)
          + (authority == null ? "" : " authority=" + authority)
          + (uniqueId == null ? "" : " unique-id=" + uniqueId.length + " bytes");
    }
  }

  /** As {@link #parse(byte[], int, int)} over the buffer's remaining bytes, position unchanged. */
  public static Result parse(ByteBuffer buffer) {
    byte[] bytes = new byte[buffer.remaining()];
    buffer.duplicate().get(bytes);
    return parse(bytes, 0, bytes.length);
  }

  /**
   * Parses the start of a stream.
   *
   * @param bytes the bytes seen so far
   * @param off where the stream starts in {@code bytes}
   * @param len how many bytes have been seen; none after them is read
   * @return never null; never throws for any content
   */
  public static Result parse(byte[] bytes, int off, int len) {
    if (off < 0 || len < 0 || off > bytes.length - len) {
      throw new IndexOutOfBoundsException("off " + off + " len " + len + " of " + bytes.length);
    }
    if (len == 0) {
      return NEED_MORE;
    }
    if (prefixMatches(bytes, off, len, V2_SIGNATURE)) {
      return len < V2_SIGNATURE.length ? NEED_MORE : parseV2(bytes, off, len);
    }
    if (prefixMatches(bytes, off, len, V1_SIGNATURE)) {
      return len < V1_SIGNATURE.length ? NEED_MORE : parseV1(bytes, off, len);
    }
    return NOT_PROXY;
  }

  /**
   * Whether the bytes start with a whole v1 or v2 signature: a stream that can only be a PROXY
   * header (valid or not), whatever follows. A receiver that does not trust the sender refuses
   * such a stream without waiting for the rest of the header.
   *
   * @param bytes the bytes seen so far
   * @param off where the stream starts in {@code bytes}
   * @param len how many bytes have been seen; none after them is read
   * @return whether a whole signature is there
   */
  public static boolean startsWithSignature(byte[] bytes, int off, int len) {
    return (len >= V2_SIGNATURE.length && prefixMatches(bytes, off, len, V2_SIGNATURE))
        || (len >= V1_SIGNATURE.length && prefixMatches(bytes, off, len, V1_SIGNATURE));
  }

  /** Whether the first {@code min(len, signature.length)} bytes are those of the signature. */
  private static boolean prefixMatches(byte[] bytes, int off, int len, byte[] signature) {
    int n = Math.min(len, signature.length);
    for (int i = 0; i < n; i++) {
      if (bytes[off + i] != signature[i]) {
        return false;
      }
    }
    return true;
  }

  private static Result malformed(String problem) {
    return new Result(Status.MALFORMED, 0, null, problem);
  }

  // ---- version 1 ----

  private static Result parseV1(byte[] bytes, int off, int len) {
    int limit = Math.min(len, V1_MAX_LENGTH);
    int end = -1; // index of the CR
    for (int i = 0; i < limit; i++) {
      int b = bytes[off + i] & 0xff;
      if (b == '\r') {
        if (i + 1 >= limit) {
          return len >= V1_MAX_LENGTH ? malformed("v1 line longer than " + V1_MAX_LENGTH
              + " bytes") : NEED_MORE;
        }
        if (bytes[off + i + 1] != '\n') {
          return malformed("v1 line: CR not followed by LF");
        }
        end = i;
        break;
      }
      if (b < 0x20 || b > 0x7e) {
        return malformed("v1 line: byte 0x" + Integer.toHexString(b) + " at " + i);
      }
    }
    if (end < 0) {
      return len >= V1_MAX_LENGTH ? malformed("v1 line longer than " + V1_MAX_LENGTH + " bytes")
          : NEED_MORE;
    }
    String line = new String(bytes, off, end, StandardCharsets.US_ASCII);
    int length = end + 2;
    String[] f = line.split(" ", -1);
    if (f.length >= 2 && f[1].equals("UNKNOWN")) {
      // The rest of the line, whatever it says, is to be ignored.
      return new Result(Status.PROXY, length, new Header(1, true, null, null, null, null), null);
    }
    if (f.length != 6) {
      return malformed("v1 line: " + f.length + " fields, expected 6");
    }
    boolean v4;
    if (f[1].equals("TCP4")) {
      v4 = true;
    } else if (f[1].equals("TCP6")) {
      v4 = false;
    } else {
      return malformed("v1 line: protocol '" + f[1] + "' is none of TCP4, TCP6, UNKNOWN");
    }
    InetAddress src = v4 ? parseIpv4(f[2]) : parseIpv6(f[2]);
    InetAddress dst = v4 ? parseIpv4(f[3]) : parseIpv6(f[3]);
    int sport = parsePort(f[4]);
    int dport = parsePort(f[5]);
    if (src == null || dst == null) {
      return malformed("v1 line: bad " + (v4 ? "IPv4" : "IPv6") + " address");
    }
    if (sport < 0 || dport < 0) {
      return malformed("v1 line: bad port");
    }
    return new Result(Status.PROXY, length, new Header(1, false,
        new InetSocketAddress(src, sport), new InetSocketAddress(dst, dport), null, null), null);
  }

  /** A decimal port 0-65535 without leading zeros, or -1. */
  private static int parsePort(String s) {
    if (s.isEmpty() || s.length() > 5 || (s.length() > 1 && s.charAt(0) == '0')) {
      return -1;
    }
    int v = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      v = v * 10 + (c - '0');
    }
    return v <= 65535 ? v : -1;
  }

  /**
   * A dotted quad of decimal bytes without leading zeros, or null. Never a name lookup.
   *
   * @param s the text
   * @return the address, or {@code null} if {@code s} is not one
   */
  public static InetAddress parseIpv4(String s) {
    byte[] raw = ipv4Bytes(s);
    return raw == null ? null : byAddress(raw);
  }

  private static byte[] ipv4Bytes(String s) {
    String[] parts = s.split("\\.", -1);
    if (parts.length != 4) {
      return null;
    }
    byte[] raw = new byte[4];
    for (int i = 0; i < 4; i++) {
      String p = parts[i];
      if (p.isEmpty() || p.length() > 3 || (p.length() > 1 && p.charAt(0) == '0')) {
        return null;
      }
      int v = 0;
      for (int j = 0; j < p.length(); j++) {
        char c = p.charAt(j);
        if (c < '0' || c > '9') {
          return null;
        }
        v = v * 10 + (c - '0');
      }
      if (v > 255) {
        return null;
      }
      raw[i] = (byte) v;
    }
    return raw;
  }

  /**
   * An IPv6 address in the text forms of RFC 4291 (hex groups, one {@code ::}, an optional dotted
   * quad at the end), or null. Never a name lookup, which {@link InetAddress#getByName} could do.
   *
   * @param s the text, without brackets
   * @return the address, or {@code null} if {@code s} is not one
   */
  public static InetAddress parseIpv6(String s) {
    if (s.isEmpty() || s.length() > 45) {
      return null;
    }
    byte[] raw = new byte[16];
    int gap = s.indexOf("::");
    if (gap >= 0 && s.indexOf("::", gap + 1) >= 0) {
      return null;
    }
    String head = gap >= 0 ? s.substring(0, gap) : s;
    String tail = gap >= 0 ? s.substring(gap + 2) : "";
    byte[] headBytes = groups(head, gap < 0);
    byte[] tailBytes = gap >= 0 ? groups(tail, true) : new byte[0];
    if (headBytes == null || tailBytes == null) {
      return null;
    }
    int total = headBytes.length + tailBytes.length;
    if (gap < 0 ? total != 16 : total > 14) {
      return null;
    }
    System.arraycopy(headBytes, 0, raw, 0, headBytes.length);
    System.arraycopy(tailBytes, 0, raw, 16 - tailBytes.length, tailBytes.length);
    return byAddress(raw);
  }

  /** Colon-separated hex groups, the last one possibly a dotted quad if {@code quadOk}. */
  private static byte[] groups(String s, boolean quadOk) {
    if (s.isEmpty()) {
      return new byte[0];
    }
    String[] parts = s.split(":", -1);
    byte[] out = new byte[parts.length * 4];
    int n = 0;
    for (int i = 0; i < parts.length; i++) {
      String p = parts[i];
      if (i == parts.length - 1 && quadOk && p.indexOf('.') >= 0) {
        byte[] quad = ipv4Bytes(p);
        if (quad == null) {
          return null;
        }
        System.arraycopy(quad, 0, out, n, 4);
        n += 4;
        continue;
      }
      if (p.isEmpty() || p.length() > 4) {
        return null;
      }
      int v = 0;
      for (int j = 0; j < p.length(); j++) {
        int d = Character.digit(p.charAt(j), 16);
        if (d < 0) {
          return null;
        }
        v = v << 4 | d;
      }
      out[n++] = (byte) (v >> 8);
      out[n++] = (byte) v;
    }
    return n > 16 ? null : Arrays.copyOf(out, n);
  }

  private static InetAddress byAddress(byte[] raw) {
    try {
      return InetAddress.getByAddress(raw); // 4 or 16 bytes: no lookup, never throws
    } catch (UnknownHostException e) {
      return null;
    }
  }

  // ---- version 2 ----

  private static Result parseV2(byte[] bytes, int off, int len) {
    if (len >= 13) {
      int verCmd = bytes[off + 12] & 0xff;
      if (verCmd >> 4 != 2) {
        return malformed("v2: version " + (verCmd >> 4) + ", expected 2");
      }
      if ((verCmd & 0xf) > 1) {
        return malformed("v2: command " + (verCmd & 0xf) + " is neither LOCAL nor PROXY");
      }
    }
    if (len >= 14) {
      int fam = bytes[off + 13] & 0xff;
      if (fam >> 4 > 3) {
        return malformed("v2: address family " + (fam >> 4));
      }
      if ((fam & 0xf) > 2) {
        return malformed("v2: transport " + (fam & 0xf));
      }
    }
    if (len < V2_PREFIX_LENGTH) {
      return NEED_MORE;
    }
    int bodyLength = (bytes[off + 14] & 0xff) << 8 | (bytes[off + 15] & 0xff);
    int total = V2_PREFIX_LENGTH + bodyLength;
    if (total > MAX_LENGTH) {
      return malformed("v2: header of " + total + " bytes, more than " + MAX_LENGTH);
    }
    if (len < total) {
      return NEED_MORE;
    }
    boolean local = (bytes[off + 12] & 0xf) == 0;
    int family = (bytes[off + 13] & 0xff) >> 4;
    int transport = bytes[off + 13] & 0xf;
    if (local) {
      // The balancer speaking for itself: addresses and TLVs are to be ignored.
      return new Result(Status.PROXY, total, new Header(2, true, null, null, null, null), null);
    }
    int addressLength;
    switch (family) {
      case 0 -> addressLength = 0;
      case 1 -> addressLength = 12;
      case 2 -> addressLength = 36;
      default -> addressLength = 216;
    }
    if (family != 0 && transport != 1) {
      return malformed("v2: transport " + transport + " on a stream connection");
    }
    if (bodyLength < addressLength) {
      return malformed("v2: " + bodyLength + " bytes cannot hold the addresses ("
          + addressLength + ")");
    }
    int p = off + V2_PREFIX_LENGTH;
    InetSocketAddress source = null;
    InetSocketAddress destination = null;
    if (family == 1 || family == 2) {
      int size = family == 1 ? 4 : 16;
      InetAddress src = byAddress(Arrays.copyOfRange(bytes, p, p + size));
      InetAddress dst = byAddress(Arrays.copyOfRange(bytes, p + size, p + 2 * size));
      int sport = (bytes[p + 2 * size] & 0xff) << 8 | (bytes[p + 2 * size + 1] & 0xff);
      int dport = (bytes[p + 2 * size + 2] & 0xff) << 8 | (bytes[p + 2 * size + 3] & 0xff);
      if (src == null || dst == null) {
        return malformed("v2: bad address");
      }
      // An IPv4-mapped IPv6 address comes back as IPv4, as the JDK reports a dual-stack peer.
      source = new InetSocketAddress(src, sport);
      destination = new InetSocketAddress(dst, dport);
    }
    int tlvStart = p + addressLength;
    int end = off + total;
    String authority = null;
    byte[] uniqueId = null;
    int crcAt = -1;
    for (int t = tlvStart; t < end; ) {
      if (end - t < 3) {
        return malformed("v2: " + (end - t) + " stray bytes after the last TLV");
      }
      int type = bytes[t] & 0xff;
      int vlen = (bytes[t + 1] & 0xff) << 8 | (bytes[t + 2] & 0xff);
      int value = t + 3;
      if (vlen > end - value) {
        return malformed("v2: TLV 0x" + Integer.toHexString(type) + " of " + vlen
            + " bytes runs past the header");
      }
      switch (type) {
        case PP2_TYPE_AUTHORITY -> {
          if (authority != null) {
            return malformed("v2: two authority TLVs");
          }
          if (vlen == 0 || vlen > MAX_AUTHORITY) {
            return malformed("v2: authority of " + vlen + " bytes");
          }
          authority = utf8(bytes, value, vlen);
          if (authority == null) {
            return malformed("v2: authority is not UTF-8");
          }
        }
        case PP2_TYPE_UNIQUE_ID -> {
          if (uniqueId != null) {
            return malformed("v2: two unique id TLVs");
          }
          if (vlen == 0 || vlen > MAX_UNIQUE_ID) {
            return malformed("v2: unique id of " + vlen + " bytes");
          }
          uniqueId = Arrays.copyOfRange(bytes, value, value + vlen);
        }
        case PP2_TYPE_CRC32C -> {
          if (crcAt >= 0 || vlen != 4) {
            return malformed("v2: CRC32C TLV of " + vlen + " bytes, or twice");
          }
          crcAt = value;
        }
        default -> {
          // ALPN, NOOP, SSL, NETNS and custom types: bounds checked above, not kept
        }
      }
      t = value + vlen;
    }
    if (crcAt >= 0 && !crcMatches(bytes, off, total, crcAt)) {
      return malformed("v2: CRC32C mismatch");
    }
    return new Result(Status.PROXY, total,
        new Header(2, false, source, destination, authority, uniqueId), null);
  }

  private static boolean crcMatches(byte[] bytes, int off, int total, int crcAt) {
    byte[] copy = Arrays.copyOfRange(bytes, off, off + total);
    int rel = crcAt - off;
    long expected = (copy[rel] & 0xffL) << 24 | (copy[rel + 1] & 0xffL) << 16
        | (copy[rel + 2] & 0xffL) << 8 | (copy[rel + 3] & 0xffL);
    Arrays.fill(copy, rel, rel + 4, (byte) 0);
    CRC32C crc = new CRC32C();
    crc.update(copy);
    return crc.getValue() == expected;
  }

  private static String utf8(byte[] bytes, int off, int len) {
    try {
      CharBuffer chars = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes, off, len));
      return chars.toString();
    } catch (CharacterCodingException e) {
      return null;
    }
  }
}
