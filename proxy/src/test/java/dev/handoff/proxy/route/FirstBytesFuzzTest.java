package dev.handoff.proxy.route;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Mutated and truncated real ClientHellos and HTTP heads: the parsers return a verdict, never
 * throw, and never consume or change the bytes they look at; a valid ClientHello for a name, split
 * into TLS records anywhere, always yields that name. The seed is printed; rerun one with
 * {@code -Dfuzz.seed=N}.
 */
class FirstBytesFuzzTest {
  private static final int ROUNDS = 40_000;

  @Test
  void parsersGiveAVerdictWithoutThrowingOrConsumingTheBytes() throws Exception {
    long seed = Long.getLong("fuzz.seed", System.nanoTime());
    System.out.println("FirstBytesFuzzTest seed " + seed + " (-Dfuzz.seed=" + seed + ")");
    Random random = new Random(seed);
    List<byte[]> bases = new ArrayList<>();
    byte[] hello = Hellos.clientHello("fuzz.example.com", List.of("h2", "http/1.1"));
    bases.add(hello);
    bases.add(Hellos.reframe(hello, 5));
    bases.add(Hellos.reframe(hello, 64));
    bases.add(Hellos.clientHello(null, null));
    bases.add(("GET /a/b?c HTTP/1.1\r\nHost: x.example:81\r\nAccept: */*\r\n\r\n")
        .getBytes(StandardCharsets.ISO_8859_1));
    bases.add(("POST http://y.example/p HTTP/1.0\nHost: [::1]\nContent-Length: 2\n\nhi")
        .getBytes(StandardCharsets.ISO_8859_1));
    ByteBuffer direct = ByteBuffer.allocateDirect(1 << 14);
    for (int round = 0; round < ROUNDS; round++) {
      byte[] bytes = mutate(bases.get(random.nextInt(bases.size())), random);
      int length = bytes.length;
      try {
        byte[] before = bytes.clone();
        ByteBuffer heap = ByteBuffer.wrap(bytes);
        FirstBytes onHeap = FirstBytes.parse(heap, length);
        assertNotNull(onHeap.verdict());
        assertEquals(0, heap.position(), "a verdict consumes nothing");
        assertArrayEquals(before, bytes, "a verdict changes nothing");
        if (length <= direct.capacity()) {
          direct.clear().put(0, bytes);
          assertEquals(onHeap, FirstBytes.parse(direct, length), "direct or heap: one verdict");
          assertEquals(0, direct.position(), "a verdict consumes nothing");
          assertNotNull(ClientHelloParser.parse(direct, length).verdict());
          assertNotNull(HttpHeadParser.parse(direct, length).verdict());
        }
      } catch (RuntimeException e) {
        throw new AssertionError("seed " + seed + " round " + round + ": "
            + java.util.HexFormat.of().formatHex(bytes), e);
      }
    }
  }

  @Test
  void aValidClientHelloSplitIntoRecordsAnywhereYieldsItsServerName() throws Exception {
    long seed = Long.getLong("fuzz.seed", System.nanoTime());
    System.out.println("FirstBytesFuzzTest seed " + seed + " (-Dfuzz.seed=" + seed + ")");
    Random random = new Random(seed);
    for (int round = 0; round < 500; round++) {
      String name = randomName(random);
      byte[] hello = Hellos.clientHello(name, List.of("h2"));
      int size = 1 + random.nextInt(96);
      byte[] split = random.nextInt(4) == 0 ? hello : Hellos.reframe(hello, size);
      FirstBytes found = FirstBytes.parse(ByteBuffer.wrap(split), split.length);
      assertEquals(FirstBytes.Verdict.FOUND, found.verdict(),
          "seed " + seed + " round " + round + " records of " + size);
      assertEquals(name, found.serverName(), "seed " + seed + " round " + round);
    }
  }

  private static String randomName(Random random) {
    StringBuilder name = new StringBuilder();
    int labels = 1 + random.nextInt(4);
    for (int l = 0; l < labels; l++) {
      int n = 1 + random.nextInt(20);
      for (int i = 0; i < n; i++) {
        name.append((char) ('a' + random.nextInt(26)));
      }
      name.append('.');
    }
    return name.append("example").toString();
  }

  private static byte[] mutate(byte[] base, Random random) {
    byte[] bytes = base.clone();
    int edits = 1 + random.nextInt(4);
    for (int e = 0; e < edits && bytes.length > 0; e++) {
      int at = random.nextInt(bytes.length);
      switch (random.nextInt(6)) {
        case 0 -> bytes[at] = (byte) random.nextInt(256);
        case 1 -> bytes[at] = (byte) (random.nextBoolean() ? 0 : 0xff);
        case 2 -> bytes = java.util.Arrays.copyOf(bytes, at); // truncate
        case 3 -> { // a length-looking pair of bytes to an extreme
          if (at + 1 < bytes.length) {
            int v = random.nextInt(3) == 0 ? 0 : random.nextInt(3) == 0 ? 0xffff
                : random.nextInt(bytes.length + 8);
            bytes[at] = (byte) (v >> 8);
            bytes[at + 1] = (byte) v;
          }
        }
        case 4 -> { // delete a run
          int n = Math.min(bytes.length - at, 1 + random.nextInt(8));
          byte[] shorter = new byte[bytes.length - n];
          System.arraycopy(bytes, 0, shorter, 0, at);
          System.arraycopy(bytes, at + n, shorter, at, bytes.length - at - n);
          bytes = shorter;
        }
        default -> { // duplicate a run
          int n = Math.min(bytes.length - at, 1 + random.nextInt(16));
          byte[] longer = new byte[bytes.length + n];
          System.arraycopy(bytes, 0, longer, 0, at + n);
          System.arraycopy(bytes, at, longer, at + n, bytes.length - at);
          bytes = longer;
        }
      }
    }
    return bytes;
  }
}
