package dev.handoff.proxy.upgrade;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Matching received listening sockets to configured listeners by their local address. */
class ListenerMatchTest {
  private static InetSocketAddress at(String host, int port) {
    return new InetSocketAddress(host, port); // literals only: no name lookup
  }

  @Test
  void wildcardsMatchOnlyTheSameWildcard() {
    assertTrue(ListenerMatch.same(at("0.0.0.0", 80), at("0.0.0.0", 80)));
    assertTrue(ListenerMatch.same(at("::", 80), at("::", 80)));
    assertFalse(ListenerMatch.same(at("0.0.0.0", 80), at("::", 80)));
    assertFalse(ListenerMatch.same(at("::", 80), at("0.0.0.0", 80)));
    assertFalse(ListenerMatch.same(at("0.0.0.0", 80), at("127.0.0.1", 80)));
    assertFalse(ListenerMatch.same(at("127.0.0.1", 80), at("0.0.0.0", 80)));
    assertFalse(ListenerMatch.same(at("::", 80), at("::1", 80)));
  }

  @Test
  void specificAddressesMatchByAddressAndPort() {
    assertTrue(ListenerMatch.same(at("127.0.0.1", 80), at("127.0.0.1", 80)));
    assertFalse(ListenerMatch.same(at("127.0.0.1", 80), at("127.0.0.1", 81)));
    assertFalse(ListenerMatch.same(at("127.0.0.1", 80), at("127.0.0.2", 80)));
    assertTrue(ListenerMatch.same(at("::1", 443), at("0:0:0:0:0:0:0:1", 443)));
    assertTrue(ListenerMatch.same(at("2001:db8::1", 443), at("2001:db8:0::1", 443)));
    assertFalse(ListenerMatch.same(at("2001:db8::1", 443), at("2001:db8::2", 443)));
    assertFalse(ListenerMatch.same(at("::1", 80), at("127.0.0.1", 80)));
    assertFalse(ListenerMatch.same(at("127.0.0.1", 80), null), "an unreadable address");
  }

  @Test
  void eachListenerGetsItsSocketTheRestAreUnwanted() {
    List<InetSocketAddress> got = Arrays.asList(at("127.0.0.1", 1001), at("0.0.0.0", 1002),
        at("::", 1003), at("127.0.0.1", 1004), null);
    List<InetSocketAddress> wanted = List.of(at("::", 1003), at("0.0.0.0", 1001),
        at("0.0.0.0", 1002), at("127.0.0.1", 1005));
    ListenerMatch match = ListenerMatch.of(wanted, got);
    assertEquals(2, match.receivedFor(0));
    assertEquals(-1, match.receivedFor(1), "0.0.0.0 does not take over 127.0.0.1");
    assertEquals(1, match.receivedFor(2));
    assertEquals(-1, match.receivedFor(3), "a new listener binds afresh");
    assertEquals(List.of(0, 3, 4), match.unwanted());
  }

  @Test
  void oneSocketServesOneListenerOnly() {
    List<InetSocketAddress> got = List.of(at("127.0.0.1", 80), at("127.0.0.1", 80));
    ListenerMatch match = ListenerMatch.of(List.of(at("127.0.0.1", 80)), got);
    assertEquals(0, match.receivedFor(0));
    assertEquals(List.of(1), match.unwanted());
    ListenerMatch none = ListenerMatch.of(List.of(), got);
    assertEquals(List.of(0, 1), none.unwanted());
  }
}
