package dev.handoff.proxy.route;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.handoff.proxy.route.FirstBytes.Verdict;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** {@link HttpHeadParser} on request heads as curl and browsers send them, and broken ones. */
class HttpHeadParserTest {

  private static FirstBytes parse(String head) {
    byte[] bytes = head.getBytes(StandardCharsets.ISO_8859_1);
    return HttpHeadParser.parse(ByteBuffer.wrap(bytes), bytes.length);
  }

  @Test
  void findsHostWithoutPortAndPath() {
    FirstBytes found = parse("GET /api/v1?x=1 HTTP/1.1\r\nUser-Agent: curl/8\r\n"
        + "Host: Shop.Example.com.:8080\r\nAccept: */*\r\n\r\nbody after the head");
    assertEquals(Verdict.FOUND, found.verdict());
    assertEquals("shop.example.com", found.host());
    assertEquals("/api/v1", found.path());
    assertEquals("[::1]", parse("GET / HTTP/1.0\nHost: [::1]:80\n\n").host());
    FirstBytes absolute = parse("GET http://other.example/x HTTP/1.1\r\nHost: a\r\n\r\n");
    assertEquals("other.example", absolute.host());
    assertEquals("/x", absolute.path());
    FirstBytes noHost = parse("GET / HTTP/1.0\r\n\r\n");
    assertEquals(Verdict.FOUND, noHost.verdict());
    assertNull(noHost.host());
  }

  @Test
  void everyPrefixNeedsMore() {
    String head = "POST /upload HTTP/1.1\r\nHost: a.example\r\nContent-Length: 3\r\n\r\n";
    for (int n = 0; n < head.length(); n++) {
      assertEquals(Verdict.NEED_MORE, parse(head.substring(0, n)).verdict(), "prefix " + n);
    }
    assertEquals(Verdict.FOUND, parse(head).verdict());
  }

  @Test
  void otherProtocolsAreNotHttp() {
    assertEquals(Verdict.NOT_THIS_PROTOCOL, parse("HELLO there\n").verdict());
    assertEquals(Verdict.NOT_THIS_PROTOCOL, parse("SSH-2.0-OpenSSH_9.2\r\n").verdict());
    assertEquals(Verdict.NOT_THIS_PROTOCOL, parse("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").verdict());
    assertEquals(Verdict.NOT_THIS_PROTOCOL, parse("\u0016\u0003\u0001").verdict());
    assertEquals(Verdict.NOT_THIS_PROTOCOL, parse("get / HTTP/1.1\r\n").verdict());
  }

  @Test
  void brokenHeadsAreMalformed() {
    assertEquals(Verdict.MALFORMED, parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        .verdict(), "two Host fields");
    assertEquals(Verdict.MALFORMED, parse("GET / HTTP/9.1\r\n").verdict());
    assertEquals(Verdict.MALFORMED, parse("GET / HTTP/1.1\r\nHost : a\r\n\r\n").verdict());
    assertEquals(Verdict.MALFORMED, parse("GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n")
        .verdict());
    assertEquals(Verdict.MALFORMED, parse("GET / HTTP/1.1\r\nHost: a b\r\n\r\n").verdict());
    assertEquals(Verdict.MALFORMED, parse("GET / HTTP/1.1\r\nHost: a\u0000\r\n\r\n").verdict());
    assertEquals(Verdict.MALFORMED, parse("GET /\u0001 HTTP/1.1\r\n").verdict());
    assertEquals(Verdict.MALFORMED, parse("GET / HTTP/1.1\rX").verdict());
  }
}
