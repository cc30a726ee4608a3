package dev.handoff.proxy.accept;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.proxy.accept.ProxyProtocol.Result;
import dev.handoff.proxy.accept.ProxyProtocol.Status;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/** The PROXY protocol parser against the specification's examples and its failure cases. */
class ProxyProtocolTest {
  static final byte[] SIG = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54,
      0x0A};

  static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  static Result parse(byte[] b) {
    return ProxyProtocol.parse(b, 0, b.length);
  }

  /** A v2 header: command (0 LOCAL, 1 PROXY), family/transport byte, address block, TLVs. */
  static byte[] v2(int command, int famTransport, byte[] addresses, byte[]... tlvs) {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    body.writeBytes(addresses);
    for (byte[] tlv : tlvs) {
      body.writeBytes(tlv);
    }
    ByteBuffer out = ByteBuffer.allocate(16 + body.size());
    out.put(SIG).put((byte) (0x20 | command)).put((byte) famTransport)
        .putShort((short) body.size()).put(body.toByteArray());
    return out.array();
  }

  static byte[] tlv(int type, byte[] value) {
    return ByteBuffer.allocate(3 + value.length).put((byte) type)
        .putShort((short) value.length).put(value).array();
  }

  static byte[] inet4(String src, String dst, int sport, int dport) throws Exception {
    return ByteBuffer.allocate(12).put(InetAddress.getByName(src).getAddress())
        .put(InetAddress.getByName(dst).getAddress()).putShort((short) sport)
        .putShort((short) dport).array();
  }

  static byte[] inet6(String src, String dst, int sport, int dport) throws Exception {
    return ByteBuffer.allocate(36).put(InetAddress.getByName(src).getAddress())
        .put(InetAddress.getByName(dst).getAddress()).putShort((short) sport)
        .putShort((short) dport).array();
  }

  /** Sets a correct CRC32C into a header whose CRC TLV value (4 zero bytes) is at {@code at}. */
  static byte[] withCrc(byte[] header, int at) {
    CRC32C crc = new CRC32C();
    crc.update(header);
    ByteBuffer.wrap(header).putInt(at, (int) crc.getValue());
    return header;
  }

  @Test
  void v1Tcp4FromTheSpecification() {
    byte[] line = ascii("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n");
    Result r = parse(line);
    assertEquals(Status.PROXY, r.status());
    assertEquals(47, r.length(), "exactly the line with its CRLF, nothing of the request");
    assertEquals(new InetSocketAddress("192.168.0.1", 56324), r.header().source());
    assertEquals(new InetSocketAddress("192.168.0.11", 443), r.header().destination());
    assertEquals(1, r.header().version());
  }

  @Test
  void v1LongestLinesFromTheSpecification() {
    String f = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    byte[] tcp6 = ascii("PROXY TCP6 " + f + " " + f + " 65535 65535\r\n");
    assertEquals(104, tcp6.length);
    Result r = parse(tcp6);
    assertEquals(Status.PROXY, r.status());
    assertEquals(104, r.length());
    assertEquals(65535, r.header().source().getPort());
    byte[] unknown = ascii("PROXY UNKNOWN " + f + " " + f + " 65535 65535\r\n");
    assertEquals(107, unknown.length);
    r = parse(unknown);
    assertEquals(Status.PROXY, r.status());
    assertEquals(107, r.length());
    assertTrue(r.header().local());
    assertNull(r.header().source());
    byte[] tcp4 = ascii("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n");
    assertEquals(Status.PROXY, parse(tcp4).status());
    assertEquals(56, parse(tcp4).length());
  }

  @Test
  void v1ShortestUnknownAndTcp6Forms() {
    Result r = parse(ascii("PROXY UNKNOWN\r\n"));
    assertEquals(Status.PROXY, r.status());
    assertEquals(15, r.length());
    r = parse(ascii("PROXY TCP6 ::1 2001:db8::7 1 65535\r\n"));
    assertEquals(Status.PROXY, r.status());
    assertEquals(new InetSocketAddress("::1", 1), r.header().source());
    assertEquals(new InetSocketAddress("2001:db8::7", 65535), r.header().destination());
    r = parse(ascii("PROXY TCP6 ::ffff:10.0.0.1 :: 0 80\r\n"));
    assertEquals(Status.PROXY, r.status());
    assertEquals(new InetSocketAddress("10.0.0.1", 0), r.header().source());
  }

  @Test
  void v1NeedsMoreUntilTheCrlfAndNoMoreThan107Bytes() {
    byte[] line = ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
    for (int n = 0; n < line.length; n++) {
      assertEquals(Status.NEED_MORE, ProxyProtocol.parse(line, 0, n).status(), "prefix " + n);
    }
    byte[] longLine = new byte[200];
    Arrays.fill(longLine, (byte) 'a');
    System.arraycopy(ascii("PROXY UNKNOWN "), 0, longLine, 0, 14);
    assertEquals(Status.NEED_MORE, ProxyProtocol.parse(longLine, 0, 106).status());
    assertEquals(Status.MALFORMED, ProxyProtocol.parse(longLine, 0, 107).status());
    assertEquals(Status.MALFORMED, parse(longLine).status());
  }

  @Test
  void v1RefusesWhatTheSpecificationDoesNotAllow() {
    for (String bad : new String[] {
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",          // LF without CR
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",         // CR without LF
        "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",       // two spaces
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",       // trailing space
        "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",          // missing port
        "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",        // protocol
        "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",        // case
        "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",      // octet
        "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",       // leading zero
        "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",          // three octets
        "PROXY TCP4 ::1 5.6.7.8 1 2\r\n",            // family mismatch
        "PROXY TCP6 1.2.3.4 ::1 1 2\r\n",            // family mismatch
        "PROXY TCP6 ::1::2 ::1 1 2\r\n",             // two gaps
        "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n",  // nine groups
        "PROXY TCP6 12345:: ::1 1 2\r\n",            // group too long
        "PROXY TCP6 localhost ::1 1 2\r\n",          // a name: never looked up
        "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",    // port
        "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n",      // leading zero
        "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",       // sign
        "PROXY \r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\u0000\r\n",  // control byte
    }) {
      Result r = parse(ascii(bad));
      assertEquals(Status.MALFORMED, r.status(), bad);
      assertTrue(r.problem() != null && !r.problem().isEmpty(), bad);
    }
  }

  @Test
  void otherProtocolsAreNotProxyAndPrefixesOfTheSignaturesNeedMore() {
    assertEquals(Status.NOT_PROXY, parse(ascii("GET / HTTP/1.1\r\n")).status());
    assertEquals(Status.NOT_PROXY, parse(ascii("PROPFIND / HTTP/1.1\r\n")).status());
    assertEquals(Status.NOT_PROXY, parse(new byte[] {0x16, 0x03, 0x01}).status()); // TLS
    assertEquals(Status.NOT_PROXY, parse(ascii("\r\n\r\nX")).status());
    assertEquals(Status.NEED_MORE, parse(ascii("PRO")).status());
    assertEquals(Status.NEED_MORE, parse(Arrays.copyOf(SIG, 7)).status());
    assertEquals(Status.NEED_MORE, parse(new byte[0]).status());
  }

  @Test
  void v2Inet4WithAuthorityAndUniqueId() throws Exception {
    byte[] header = v2(1, 0x11, inet4("203.0.113.7", "192.0.2.1", 40000, 443),
        tlv(0x02, ascii("api.example.com")), tlv(0x05, new byte[] {1, 2, 3, 4}),
        tlv(0x01, ascii("h2")), tlv(0x04, new byte[3]));
    byte[] stream = Arrays.copyOf(header, header.length + 5); // the client's first bytes follow
    Result r = parse(stream);
    assertEquals(Status.PROXY, r.status());
    assertEquals(header.length, r.length());
    assertEquals(new InetSocketAddress("203.0.113.7", 40000), r.header().source());
    assertEquals(new InetSocketAddress("192.0.2.1", 443), r.header().destination());
    assertEquals("api.example.com", r.header().authority());
    assertArrayEquals(new byte[] {1, 2, 3, 4}, r.header().uniqueId());
    assertEquals(2, r.header().version());
    for (int n = 0; n < header.length; n++) {
      assertEquals(Status.NEED_MORE, ProxyProtocol.parse(header, 0, n).status(), "prefix " + n);
    }
  }

  @Test
  void v2Inet6LocalUnspecAndUnix() throws Exception {
    Result r = parse(v2(1, 0x21, inet6("2001:db8::1", "2001:db8::2", 1, 2)));
    assertEquals(Status.PROXY, r.status());
    assertEquals(52, r.length());
    assertEquals(new InetSocketAddress("2001:db8::1", 1), r.header().source());
    r = parse(v2(0, 0x00, new byte[0]));
    assertEquals(Status.PROXY, r.status());
    assertTrue(r.header().local());
    assertEquals(16, r.length());
    r = parse(v2(0, 0x11, inet4("1.1.1.1", "2.2.2.2", 1, 2))); // LOCAL ignores the addresses
    assertTrue(r.header().local());
    assertNull(r.header().source());
    r = parse(v2(1, 0x00, new byte[0], tlv(0x04, new byte[1]))); // UNSPEC: no address, TLVs
    assertEquals(Status.PROXY, r.status());
    assertEquals(20, r.length());
    assertNull(r.header().source());
    r = parse(v2(1, 0x31, new byte[216]));
    assertEquals(Status.PROXY, r.status());
    assertNull(r.header().source());
  }

  @Test
  void v2ChecksTheCrc32cWhenPresent() throws Exception {
    byte[] header = v2(1, 0x11, inet4("10.0.0.1", "10.0.0.2", 5, 6), tlv(0x03, new byte[4]));
    withCrc(header, 16 + 12 + 3);
    assertEquals(Status.PROXY, parse(header).status());
    header[17] ^= 1;
    assertEquals(Status.MALFORMED, parse(header).status());
  }

  @Test
  void v2RefusesWhatTheSpecificationDoesNotAllow() throws Exception {
    byte[] ok = v2(1, 0x11, inet4("10.0.0.1", "10.0.0.2", 5, 6));
    byte[] badVersion = ok.clone();
    badVersion[12] = 0x11;
    byte[] badCommand = ok.clone();
    badCommand[12] = 0x22;
    byte[] badFamily = ok.clone();
    badFamily[13] = 0x41;
    byte[] dgram = ok.clone();
    dgram[13] = 0x12;
    byte[] shortAddresses = v2(1, 0x21, new byte[30]);
    byte[] tlvPastEnd = v2(1, 0x11, inet4("10.0.0.1", "10.0.0.2", 5, 6),
        new byte[] {0x02, 0x00, 0x09, 'a'});
    byte[] strayBytes = v2(1, 0x11, inet4("10.0.0.1", "10.0.0.2", 5, 6), new byte[] {0x04, 0});
    byte[] badUtf8 = v2(1, 0x11, inet4("10.0.0.1", "10.0.0.2", 5, 6),
        tlv(0x02, new byte[] {(byte) 0xc3, 0x28}));
    byte[] longId = v2(1, 0x11, inet4("10.0.0.1", "10.0.0.2", 5, 6), tlv(0x05, new byte[129]));
    byte[] twoIds = v2(1, 0x11, inet4("10.0.0.1", "10.0.0.2", 5, 6), tlv(0x05, new byte[1]),
        tlv(0x05, new byte[1]));
    byte[] tooLong = Arrays.copyOf(ok, 16);
    ByteBuffer.wrap(tooLong).putShort(14, (short) (ProxyProtocol.MAX_LENGTH - 15));
    for (byte[] bad : new byte[][] {badVersion, badCommand, badFamily, dgram, shortAddresses,
        tlvPastEnd, strayBytes, badUtf8, longId, twoIds, tooLong}) {
      assertEquals(Status.MALFORMED, parse(bad).status(), Arrays.toString(bad));
    }
    // A header too long is refused from its prefix, before its body arrives.
    byte[] justRight = Arrays.copyOf(ok, 16);
    ByteBuffer.wrap(justRight).putShort(14, (short) (ProxyProtocol.MAX_LENGTH - 16));
    assertEquals(Status.NEED_MORE, parse(justRight).status());
  }

  @Test
  void parsesAtAnOffsetAndFromABufferWithoutMovingIt() throws Exception {
    byte[] header = v2(1, 0x11, inet4("10.0.0.1", "10.0.0.2", 5, 6));
    byte[] shifted = new byte[header.length + 7];
    System.arraycopy(header, 0, shifted, 7, header.length);
    assertEquals(Status.PROXY, ProxyProtocol.parse(shifted, 7, header.length).status());
    ByteBuffer buffer = ByteBuffer.wrap(header);
    assertEquals(Status.PROXY, ProxyProtocol.parse(buffer).status());
    assertEquals(0, buffer.position());
  }
}
