package dev.handoff.proxy.route;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.handoff.proxy.route.FirstBytes.Verdict;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link ClientHelloParser} on ClientHellos made by the JDK's TLS client. */
class ClientHelloParserTest {

  private static FirstBytes parse(byte[] bytes, int length) {
    return ClientHelloParser.parse(ByteBuffer.wrap(bytes), length);
  }

  @Test
  void findsServerNameAndAlpnOfARealClientHello() throws Exception {
    byte[] hello = Hellos.clientHello("API.Example.com", List.of("h2", "http/1.1"));
    FirstBytes found = parse(hello, hello.length);
    assertEquals(Verdict.FOUND, found.verdict());
    assertEquals("api.example.com", found.serverName());
    assertEquals(List.of("h2", "http/1.1"), found.alpn());
    ByteBuffer direct = ByteBuffer.allocateDirect(hello.length + 100);
    direct.put(0, hello);
    assertEquals(found, ClientHelloParser.parse(direct, hello.length), "direct buffer too");
  }

  @Test
  void everyPrefixNeedsMore() throws Exception {
    byte[] hello = Hellos.clientHello("a.example.com", List.of("h2"));
    for (int n = 0; n < hello.length; n++) {
      assertEquals(Verdict.NEED_MORE, parse(hello, n).verdict(), "prefix of " + n);
    }
  }

  @Test
  void aClientHelloOverSeveralRecordsStillParses() throws Exception {
    byte[] hello = Hellos.clientHello("multi.example.com", List.of("acme-tls/1"));
    for (int size : new int[] {1, 3, 7, 100}) {
      byte[] framed = Hellos.reframe(hello, size);
      FirstBytes found = parse(framed, framed.length);
      assertEquals(Verdict.FOUND, found.verdict(), "records of " + size);
      assertEquals("multi.example.com", found.serverName());
      assertEquals(List.of("acme-tls/1"), found.alpn());
      for (int n = 0; n < framed.length; n += Math.max(1, framed.length / 300)) {
        assertEquals(Verdict.NEED_MORE, parse(framed, n).verdict(), size + "/" + n);
      }
    }
  }

  @Test
  void noServerNameNoAlpn() throws Exception {
    byte[] hello = Hellos.clientHello(null, null);
    FirstBytes found = parse(hello, hello.length);
    assertEquals(Verdict.FOUND, found.verdict());
    assertNull(found.serverName());
    assertEquals(List.of(), found.alpn());
  }

  @Test
  void otherProtocolsAreNotTls() {
    assertEquals(Verdict.NOT_THIS_PROTOCOL, parse("GET / HTTP/1.1\r\n".getBytes(), 16).verdict());
    assertEquals(Verdict.NOT_THIS_PROTOCOL, parse(new byte[] {22, 9}, 2).verdict());
  }

  @Test
  void brokenLengthsAreMalformed() throws Exception {
    byte[] hello = Hellos.clientHello("x.example.com", List.of("h2"));
    byte[] bad = hello.clone();
    bad[5] = 2; // a ServerHello, not a ClientHello
    assertEquals(Verdict.MALFORMED, parse(bad, bad.length).verdict());
    bad = hello.clone();
    bad[3] = 0x7f; // record longer than 2^14
    assertEquals(Verdict.MALFORMED, parse(bad, bad.length).verdict());
    bad = hello.clone();
    bad[5 + 4 + 34] = 33; // session id longer than 32
    assertEquals(Verdict.MALFORMED, parse(bad, bad.length).verdict());
    // The handshake says it is shorter than its extensions: lengths disagree.
    bad = hello.clone();
    int hsLength = (bad[6] & 0xff) << 16 | (bad[7] & 0xff) << 8 | (bad[8] & 0xff);
    bad[8] = (byte) (hsLength - 1);
    bad[7] = (byte) ((hsLength - 1) >> 8);
    assertEquals(Verdict.MALFORMED, parse(bad, bad.length).verdict());
    // A second record that is not a handshake record.
    byte[] framed = Hellos.reframe(hello, 50);
    framed[55] = 23;
    assertEquals(Verdict.MALFORMED, parse(framed, framed.length).verdict());
    // Bad bytes in the server name.
    String s = new String(hello, java.nio.charset.StandardCharsets.ISO_8859_1);
    int at = s.indexOf("x.example.com");
    bad = Arrays.copyOf(hello, hello.length);
    bad[at] = ' ';
    assertEquals(Verdict.MALFORMED, parse(bad, bad.length).verdict());
  }
}
