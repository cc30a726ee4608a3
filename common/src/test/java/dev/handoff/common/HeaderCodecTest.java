package dev.handoff.common;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.handoff.common.HandoffException.Reason;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class HeaderCodecTest {
  private static HandoffHeader header(String client, String local) throws Exception {
    return new HandoffHeader(42, 1_700_000_000_123_456L,
        new InetSocketAddress(InetAddress.getByName(client), 54321),
        new InetSocketAddress(InetAddress.getByName(local), 1987));
  }

  private static ByteBuffer encode(HandoffHeader h) {
    ByteBuffer buf = ByteBuffer.allocate(HeaderCodec.V1_LENGTH);
    HeaderCodec.encode(h, buf);
    assertEquals(HeaderCodec.V1_LENGTH, buf.position(), "encode writes exactly one v1 header");
    return buf.flip();
  }

  private static HandoffHeader decode(ByteBuffer buf) throws HandoffException {
    ByteBuffer prefix = buf.slice().limit(HeaderCodec.PREFIX_LENGTH);
    int length = HeaderCodec.decodePrefix(prefix);
    ByteBuffer body = buf.slice().position(HeaderCodec.PREFIX_LENGTH).limit(length).slice();
    return HeaderCodec.decodeBody(body);
  }

  @Test
  void roundTripsIpv4() throws Exception {
    HandoffHeader h = header("192.0.2.7", "10.1.2.3");
    assertEquals(h, decode(encode(h)));
  }

  @Test
  void roundTripsIpv6AndMixedFamilies() throws Exception {
    HandoffHeader h = header("2001:db8::1", "::1");
    assertEquals(h, decode(encode(h)));
    HandoffHeader mixed = header("2001:db8::7", "127.0.0.1");
    assertEquals(mixed, decode(encode(mixed)));
  }

  @Test
  void skipsFieldsOfALongerFutureHeader() throws Exception {
    HandoffHeader h = header("192.0.2.7", "10.1.2.3");
    ByteBuffer longer = ByteBuffer.allocate(HeaderCodec.V1_LENGTH + 20);
    HeaderCodec.encode(h, longer);
    longer.putShort(6, (short) (HeaderCodec.V1_LENGTH + 20));
    longer.position(HeaderCodec.V1_LENGTH).put(new byte[20]).flip();
    assertEquals(h, decode(longer), "unknown trailing fields are skipped by length");
  }

  @Test
  void carriesTheOriginalClientInExtensionsThatOlderReadersSkip() throws Exception {
    HandoffHeader plain = header("192.0.2.7", "10.1.2.3");
    OriginalClient origin = new OriginalClient(
        new InetSocketAddress(InetAddress.getByName("2001:db8::9"), 40123), "api.example.com",
        new byte[] {1, 2, 3});
    HandoffHeader h = new HandoffHeader(42, 1_700_000_000_123_456L, plain.client(),
        plain.local(), origin);
    int length = HeaderCodec.encodedLength(h);
    assertEquals(HeaderCodec.V1_LENGTH + 23 + 18 + 6, length);
    ByteBuffer buf = ByteBuffer.allocate(HeaderCodec.MAX_ENCODED_LENGTH);
    HeaderCodec.encode(h, buf);
    assertEquals(length, buf.position());
    buf.flip();
    assertEquals(h, decode(buf.duplicate()));
    assertEquals(origin.address(), decode(buf.duplicate()).effectiveClient());
    // The known fields are those of a header without extensions, byte for byte: a reader of
    // before the extensions reads the same connection and skips the rest by length.
    ByteBuffer old = encode(plain);
    for (int i = HeaderCodec.PREFIX_LENGTH; i < HeaderCodec.V1_LENGTH; i++) {
      assertEquals(old.get(i), buf.get(i), "byte " + i);
    }
    // A migrated header keeps its original client after its own fields.
    HandoffHeader moved = h.migrated(5, 7);
    ByteBuffer m = ByteBuffer.allocate(HeaderCodec.MAX_ENCODED_LENGTH);
    HeaderCodec.encode(moved, m);
    m.flip();
    ByteBuffer prefix = m.slice().limit(HeaderCodec.PREFIX_LENGTH);
    int mlength = HeaderCodec.decodePrefix(prefix);
    ByteBuffer body = m.slice().position(HeaderCodec.PREFIX_LENGTH).limit(mlength).slice();
    assertEquals(moved, HeaderCodec.decodeBody(body, HandoffHeader.Kind.MIGRATED));
  }

  @Test
  void refusesAMalformedOriginalClientButSkipsUnknownExtensions() throws Exception {
    HandoffHeader plain = header("192.0.2.7", "10.1.2.3");
    HandoffHeader h = new HandoffHeader(42, 1, plain.client(), plain.local(),
        new OriginalClient(new InetSocketAddress(InetAddress.getByName("198.51.100.1"), 1),
            null, null));
    ByteBuffer buf = ByteBuffer.allocate(HeaderCodec.MAX_ENCODED_LENGTH);
    HeaderCodec.encode(h, buf);
    buf.flip();
    ByteBuffer badFamily = buf.duplicate();
    badFamily.put(HeaderCodec.V1_LENGTH + 3, (byte) 5);
    HandoffException e = assertThrows(HandoffException.class, () -> decode(badFamily));
    assertEquals(Reason.BAD_ADDRESS, e.reason());
    assertEquals(true, e.reason().resynchronisable(), "the header was read whole");
    ByteBuffer unknown = buf.duplicate();
    unknown.put(HeaderCodec.V1_LENGTH, (byte) 99);
    assertEquals(null, decode(unknown).origin(), "an unknown extension is skipped");
  }

  private static Reason rejection(ByteBuffer buf) {
    return assertThrows(HandoffException.class, () -> decode(buf)).reason();
  }

  @Test
  void rejectsWrongMagic() throws Exception {
    ByteBuffer buf = encode(header("192.0.2.7", "10.1.2.3"));
    buf.putInt(0, 0x47455420); // "GET "
    assertEquals(Reason.BAD_MAGIC, rejection(buf));
  }

  @Test
  void rejectsOtherVersions() throws Exception {
    for (int version : new int[] {0, 1, 3, 255}) {
      ByteBuffer buf = encode(header("192.0.2.7", "10.1.2.3"));
      buf.put(4, (byte) version);
      assertEquals(Reason.BAD_VERSION, rejection(buf), "version " + version);
    }
  }

  @Test
  void rejectsLengthsOutsideTheBounds() throws Exception {
    for (int length : new int[] {0, 8, HeaderCodec.V1_LENGTH - 1, HeaderCodec.MAX_LENGTH + 1,
        0xffff}) {
      ByteBuffer buf = encode(header("192.0.2.7", "10.1.2.3"));
      buf.putShort(6, (short) length);
      assertEquals(Reason.BAD_LENGTH, rejection(buf), "length " + length);
    }
  }

  @Test
  void rejectsUnknownAddressFamilies() throws Exception {
    for (int offset : new int[] {24, 25}) {
      ByteBuffer buf = encode(header("192.0.2.7", "10.1.2.3"));
      buf.put(offset, (byte) 5);
      assertEquals(Reason.BAD_ADDRESS, rejection(buf), "family byte at " + offset);
    }
  }

  @Test
  void badAddressIsResynchronisableButBadFramingIsNot() {
    assertEquals(true, Reason.BAD_ADDRESS.resynchronisable());
    assertEquals(false, Reason.BAD_MAGIC.resynchronisable());
    assertEquals(false, Reason.BAD_LENGTH.resynchronisable());
  }
}
