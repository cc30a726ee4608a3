package dev.handoff.proxy.upgrade;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import org.junit.jupiter.api.Test;

/** The LISTENER message's value (docs/PROTOCOL.md, "Upgrading the proxy"). */
class ListenerValueTest {
  @Test
  void oneListenerIsItsPortAloneAsInVersionOne() throws IOException {
    assertEquals(1987L, new ListenerValue(1987, 0, 1).encode());
    assertEquals(new ListenerValue(1987, 0, 1), ListenerValue.decode(1987));
    assertEquals(new ListenerValue(65535, 0, 1), ListenerValue.decode(65535));
  }

  @Test
  void severalCarryTheirCountAndIndexInTheHighBits() throws IOException {
    ListenerValue second = new ListenerValue(8443, 1, 3);
    assertEquals(0x0001_0003_0000_20fbL, second.encode());
    assertEquals(second, ListenerValue.decode(second.encode()));
    ListenerValue first = new ListenerValue(443, 0, 2);
    assertEquals(0x0000_0002_0000_01bbL, first.encode());
    assertEquals(first, ListenerValue.decode(first.encode()));
    ListenerValue last = new ListenerValue(1, 65534, 65535);
    assertEquals(last, ListenerValue.decode(last.encode()));
    // A count of 1 written out is one listener too.
    assertEquals(new ListenerValue(80, 0, 1), ListenerValue.decode(0x0000_0001_0000_0050L));
  }

  @Test
  void reservedBitsOrAnIndexBeyondTheCountAreRefused() {
    IOException reserved = assertThrows(IOException.class,
        () -> ListenerValue.decode(0x0000_0000_0001_0050L));
    assertTrue(reserved.getMessage().contains("bits 16-31"), reserved.getMessage());
    IOException index = assertThrows(IOException.class,
        () -> ListenerValue.decode(0x0002_0002_0000_0050L));
    assertTrue(index.getMessage().contains("index 2 of 2"), index.getMessage());
    assertThrows(IOException.class, () -> ListenerValue.decode(0x0001_0000_0000_0050L));
    assertThrows(IllegalArgumentException.class, () -> new ListenerValue(80, 1, 1));
    assertThrows(IllegalArgumentException.class, () -> new ListenerValue(70000, 0, 1));
  }
}
