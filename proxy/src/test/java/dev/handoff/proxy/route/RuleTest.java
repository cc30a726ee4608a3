package dev.handoff.proxy.route;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link Rule} parsing and matching, and {@link RouteTable}'s order. */
class RuleTest {
  private static FirstBytes sni(String name, String... alpn) {
    return FirstBytes.tls(name, List.of(alpn));
  }

  @Test
  void serverNamesExactAndWildcard() {
    Rule exact = Rule.parse("sni:API.example.com.");
    assertTrue(exact.matches(sni("api.example.com")));
    assertFalse(exact.matches(sni("www.example.com")));
    assertFalse(exact.matches(sni(null)));
    Rule wild = Rule.parse("sni:*.example.com");
    assertTrue(wild.matches(sni("a.example.com")));
    assertFalse(wild.matches(sni("example.com")));
    assertFalse(wild.matches(sni("a.b.example.com")));
    assertFalse(wild.matches(sni("aexample.com")));
    assertFalse(wild.matches(FirstBytes.http("a.example.com", "/")), "sni is not Host");
  }

  @Test
  void alpnAndHostAndPath() {
    Rule alpn = Rule.parse("alpn:h2");
    assertTrue(alpn.matches(sni("x", "http/1.1", "h2")));
    assertFalse(alpn.matches(sni("x", "http/1.1")));
    Rule host = Rule.parse("host:example.com/api/");
    assertTrue(host.matches(FirstBytes.http("example.com", "/api")));
    assertTrue(host.matches(FirstBytes.http("example.com", "/api/v1")));
    assertFalse(host.matches(FirstBytes.http("example.com", "/apix")));
    assertFalse(host.matches(FirstBytes.http("other.com", "/api")));
    assertTrue(Rule.parse("host:*.shop.example").matches(FirstBytes.http("eu.shop.example",
        "/")));
    assertTrue(Rule.parse("default").matches(FirstBytes.NEED_MORE));
  }

  @Test
  void parseErrorsSayWhatIsWrong() {
    assertTrue(assertThrows(IllegalArgumentException.class, () -> Rule.parse("sni:"))
        .getMessage().contains("not a host name"));
    assertThrows(IllegalArgumentException.class, () -> Rule.parse("sni:a b"));
    assertThrows(IllegalArgumentException.class, () -> Rule.parse("sni:*"));
    assertThrows(IllegalArgumentException.class, () -> Rule.parse("alpn:"));
    assertThrows(IllegalArgumentException.class, () -> Rule.parse("port:80"));
    assertThrows(IllegalArgumentException.class, () -> Rule.parse("api.example.com"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RouteTable.fromOptions(List.of("sni:=/run/a.sock"), List.of()));
    assertTrue(e.getMessage().startsWith("--route 'sni:'"), e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> RouteTable.fromOptions(List.of("sni:a.example"), List.of()));
    assertThrows(IllegalArgumentException.class,
        () -> RouteTable.fromOptions(List.of("sni:a.example="), List.of()));
  }

  @Test
  void tableFirstMatchWinsAndSameRulesShareARoute() {
    RouteTable table = RouteTable.fromOptions(List.of("sni:a.example=/a1",
        "alpn:h2=/h2", "sni:a.example=/a2", "default=/d2"), List.of(Path.of("/d1")));
    assertEquals(2, table.routes().size());
    assertEquals(List.of(Path.of("/a1"), Path.of("/a2")), table.routes().get(0).sockets());
    assertEquals(List.of(Path.of("/d1"), Path.of("/d2")), table.fallback().sockets());
    assertEquals(0, table.match(sni("a.example", "h2")));
    assertEquals(1, table.match(sni("b.example", "h2")));
    assertEquals(2, table.match(sni("b.example")));
    assertEquals(2, table.match(FirstBytes.MALFORMED));
    RouteTable noDefault = RouteTable.fromOptions(List.of("sni:a.example=/a"), List.of());
    assertEquals(-1, noDefault.match(sni("b.example")));
    assertFalse(RouteTable.fromOptions(List.of(), List.of(Path.of("/d"))).needsPeek());
  }
}
