package dev.handoff.proxy.accept;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.TypeConversionException;

/** The ranges of --proxy-protocol-from: what they contain, and what is not a range. */
class CidrTest {
  @Test
  void rangesContainTheirAddressesOnly() throws Exception {
    Cidr v4 = Cidr.parse("10.1.0.0/16");
    assertTrue(v4.contains(InetAddress.getByName("10.1.255.3")));
    assertTrue(!v4.contains(InetAddress.getByName("10.2.0.1")));
    assertTrue(!v4.contains(InetAddress.getByName("::1")));
    Cidr host = Cidr.parse("127.0.0.2");
    assertTrue(host.contains(InetAddress.getByName("127.0.0.2")));
    assertTrue(!host.contains(InetAddress.getByName("127.0.0.1")));
    Cidr v6 = Cidr.parse("2001:db8:80::/41");
    assertTrue(v6.contains(InetAddress.getByName("2001:db8:80::1")));
    assertTrue(v6.contains(InetAddress.getByName("2001:db8:ff::1")));
    assertTrue(!v6.contains(InetAddress.getByName("2001:db8:100::1")));
    assertTrue(Cidr.parse("0.0.0.0/0").contains(InetAddress.getByName("1.2.3.4")));
  }

  @Test
  void aRangeIsTheNetworkItNames() {
    Cidr range = Cidr.parse("10.1.0.0/16");
    assertEquals(16, range.bits());
    assertEquals("10.1.0.0/16", range.text());
    assertEquals(32, Cidr.parse("127.0.0.2").bits());
    assertEquals(128, Cidr.parse("::1").bits());
  }

  @Test
  void malformedRangesAreRefusedNamingTheValue() {
    for (String bad : new String[] {"10.0.0.0/33", "10.0.0.1/8", "example.com", "::1/129",
        "10.0.0/8", "10.0.0.0/", "2001:db8::/x"}) {
      RuntimeException e = assertThrows(RuntimeException.class, () -> new Cidr.Converter()
          .convert(bad), bad);
      assertTrue(e instanceof TypeConversionException || e instanceof IllegalArgumentException,
          bad + ": " + e);
    }
  }
}
