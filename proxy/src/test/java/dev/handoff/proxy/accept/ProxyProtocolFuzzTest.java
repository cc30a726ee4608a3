package dev.handoff.proxy.accept;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.handoff.proxy.accept.ProxyProtocol.Result;
import dev.handoff.proxy.accept.ProxyProtocol.Status;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Thousands of mutated and truncated v1 and v2 headers, from a seed printed on every run (set
 * {@code -Dproxyprotocol.seed=N} to repeat one): the parser never throws, a header it accepts lies
 * within the bytes it was given, and what follows a header (or lies past the bytes given) never
 * changes the answer.
 */
class ProxyProtocolFuzzTest {
  private static final int CASES = 10_000;

  @Test
  void neverThrowsNeverReadsPastTheLengthGiven() throws Exception {
    long seed = Long.getLong("proxyprotocol.seed", System.nanoTime());
    System.out.println("ProxyProtocolFuzzTest seed " + seed);
    Random random = new Random(seed);
    List<byte[]> seeds = seeds();
    Map<Status, Integer> seen = new EnumMap<>(Status.class);
    for (int i = 0; i < CASES; i++) {
      byte[] input = mutate(seeds.get(random.nextInt(seeds.size())), random);
      Result r;
      try {
        r = ProxyProtocol.parse(input, 0, input.length);
      } catch (RuntimeException e) {
        throw new AssertionError("seed " + seed + " case " + i + " threw on "
            + Arrays.toString(input), e);
      }
      seen.merge(r.status(), 1, Integer::sum);
      String where = "seed " + seed + " case " + i + ": " + Arrays.toString(input);
      switch (r.status()) {
        case PROXY -> {
          assertTrue(r.length() > 0 && r.length() <= input.length, where);
          assertTrue(r.length() <= ProxyProtocol.MAX_LENGTH, where);
          // Exactly the header's bytes give the same answer, whatever follows them.
          Result exact = ProxyProtocol.parse(Arrays.copyOf(input, r.length()), 0, r.length());
          assertEquals(r.toString(), exact.toString(), where);
          byte[] more = Arrays.copyOf(input, input.length + 64);
          for (int k = input.length; k < more.length; k++) {
            more[k] = (byte) random.nextInt();
          }
          assertEquals(r.toString(), ProxyProtocol.parse(more, 0, more.length).toString(), where);
        }
        case NEED_MORE -> assertTrue(input.length < ProxyProtocol.MAX_LENGTH, where);
        case MALFORMED -> assertTrue(r.problem() != null, where);
        case NOT_PROXY -> { }
        default -> fail(where);
      }
      // The bytes past len are never looked at: garbage there changes nothing.
      byte[] padded = Arrays.copyOf(input, input.length + 32);
      Arrays.fill(padded, input.length, padded.length, (byte) random.nextInt());
      assertEquals(r.toString(), ProxyProtocol.parse(padded, 0, input.length).toString(), where);
    }
    System.out.println("ProxyProtocolFuzzTest outcomes " + seen);
    for (Status s : Status.values()) {
      assertTrue(seen.getOrDefault(s, 0) > 0, "the mutations reach " + s + ": " + seen);
    }
  }

  private static List<byte[]> seeds() throws Exception {
    List<byte[]> s = new ArrayList<>();
    String f = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    s.add(ProxyProtocolTest.ascii("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"));
    s.add(ProxyProtocolTest.ascii("PROXY TCP6 " + f + " " + f + " 65535 65535\r\n"));
    s.add(ProxyProtocolTest.ascii("PROXY TCP6 ::1 2001:db8::1 1 2\r\n"));
    s.add(ProxyProtocolTest.ascii("PROXY UNKNOWN\r\n"));
    s.add(ProxyProtocolTest.v2(1, 0x11, ProxyProtocolTest.inet4("10.1.2.3", "10.0.0.1", 9, 80),
        ProxyProtocolTest.tlv(0x02, ProxyProtocolTest.ascii("example.com")),
        ProxyProtocolTest.tlv(0x05, new byte[] {7, 7, 7})));
    s.add(ProxyProtocolTest.v2(1, 0x21,
        ProxyProtocolTest.inet6("2001:db8::1", "2001:db8::2", 1, 2)));
    s.add(ProxyProtocolTest.v2(0, 0x00, new byte[0]));
    s.add(ProxyProtocolTest.withCrc(ProxyProtocolTest.v2(1, 0x11,
        ProxyProtocolTest.inet4("10.0.0.1", "10.0.0.2", 5, 6),
        ProxyProtocolTest.tlv(0x03, new byte[4])), 16 + 12 + 3));
    return s;
  }

  private static byte[] mutate(byte[] original, Random random) {
    byte[] b = original.clone();
    int rounds = 1 + random.nextInt(4);
    for (int r = 0; r < rounds; r++) {
      switch (random.nextInt(8)) {
        case 0 -> b = Arrays.copyOf(b, random.nextInt(b.length + 1)); // truncate
        case 1 -> { // flip a bit
          if (b.length > 0) {
            b[random.nextInt(b.length)] ^= (byte) (1 << random.nextInt(8));
          }
        }
        case 2 -> { // replace a byte
          if (b.length > 0) {
            b[random.nextInt(b.length)] = (byte) random.nextInt();
          }
        }
        case 3 -> { // insert a byte
          int at = random.nextInt(b.length + 1);
          byte[] n = new byte[b.length + 1];
          System.arraycopy(b, 0, n, 0, at);
          n[at] = (byte) (random.nextBoolean() ? random.nextInt() : " :.\r\n0".charAt(
              random.nextInt(6)));
          System.arraycopy(b, at, n, at + 1, b.length - at);
          b = n;
        }
        case 4 -> { // delete a byte
          if (b.length > 0) {
            int at = random.nextInt(b.length);
            byte[] n = new byte[b.length - 1];
            System.arraycopy(b, 0, n, 0, at);
            System.arraycopy(b, at + 1, n, at, b.length - at - 1);
            b = n;
          }
        }
        case 5 -> { // a v2 length field or a TLV length set to anything
          if (b.length >= 16 && b[0] == 0x0D) {
            int at = random.nextBoolean() ? 14 : 16 + random.nextInt(Math.max(1, b.length - 17));
            if (at + 1 < b.length) {
              b[at] = (byte) random.nextInt();
              b[at + 1] = (byte) random.nextInt();
            }
          }
        }
        case 6 -> { // trailing bytes, as a client's data after the header
          int extra = random.nextInt(40);
          int at = b.length;
          b = Arrays.copyOf(b, b.length + extra);
          for (int i = at; i < b.length; i++) {
            b[i] = (byte) random.nextInt();
          }
        }
        default -> { } // unchanged this round: valid headers stay in the mix
      }
    }
    return b;
  }
}
