package dev.handoff.proxy.accept;

import java.net.InetAddress;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * A range of IPv4 or IPv6 addresses, {@code ADDR/BITS} or a single {@code ADDR}: the load
 * balancers trusted with {@code --proxy-protocol-from}. Addresses are literals, never looked up.
 */
public record Cidr(byte[] network, int bits, String text) {

  /** Parses {@code 10.0.0.0/8}, {@code 2001:db8::/32}, {@code 127.0.0.1} or {@code ::1}. */
  public static Cidr parse(String value) {
    int slash = value.indexOf('/');
    String host = slash < 0 ? value : value.substring(0, slash);
    InetAddress address = host.indexOf(':') >= 0 ? ProxyProtocol.parseIpv6(host)
        : ProxyProtocol.parseIpv4(host);
    // ::ffff:a.b.c.d comes back as IPv4; its prefix length would then be on the IPv6 scale.
    if (address == null || (host.indexOf(':') >= 0 && address.getAddress().length == 4)) {
      throw new IllegalArgumentException("'" + value + "' is not an IPv4 or IPv6 address or"
          + " CIDR range (examples: 10.0.0.0/8, 2001:db8::/32, 127.0.0.1)");
    }
    byte[] raw = address.getAddress();
    int max = raw.length * 8;
    int bits = max;
    if (slash >= 0) {
      String b = value.substring(slash + 1);
      if (b.isEmpty() || b.length() > 3 || !b.chars().allMatch(Character::isDigit)
          || Integer.parseInt(b) > max) {
        throw new IllegalArgumentException("'" + value + "': prefix length '" + b
            + "' is not 0-" + max);
      }
      bits = Integer.parseInt(b);
    }
    for (int i = 0; i < raw.length * 8; i++) {
      if (i >= bits && (raw[i / 8] & (0x80 >> (i % 8))) != 0) {
        throw new IllegalArgumentException("'" + value + "': host bits set past /" + bits);
      }
    }
    return new Cidr(raw, bits, value);
  }

  /** Whether {@code address} is in this range (of the same family). */
  public boolean contains(InetAddress address) {
    byte[] raw = address.getAddress();
    if (raw.length != network.length) {
      return false;
    }
    int whole = bits / 8;
    for (int i = 0; i < whole; i++) {
      if (raw[i] != network[i]) {
        return false;
      }
    }
    int rest = bits % 8;
    if (rest == 0) {
      return true;
    }
    int mask = (0xff << (8 - rest)) & 0xff;
    return (raw[whole] & mask) == (network[whole] & mask);
  }

  @Override
  public String toString() {
    return text;
  }

  /** picocli's converter: a bad range is a usage error naming the option. */
  public static final class Converter implements ITypeConverter<Cidr> {
    @Override
    public Cidr convert(String value) {
      try {
        return parse(value);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }
}
