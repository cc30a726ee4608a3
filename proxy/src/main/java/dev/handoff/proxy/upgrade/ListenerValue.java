package dev.handoff.proxy.upgrade;

import java.io.IOException;

/**
 * The value of a LISTENER control message (docs/PROTOCOL.md, "Upgrading the proxy"): the port of
 * the socket it carries, and, when the running proxy passes several, how many it passes and which
 * one this is. Bits 0-15: the port; bits 16-31: 0; bits 32-47: the count N of LISTENER messages
 * in this exchange, 0 standing for 1; bits 48-63: this message's index, 0 to N-1. One listener is
 * sent as its port alone, as version 1 always did, so a proxy of either build reads it the same.
 *
 * @param port the local port of the socket carried
 * @param index this message's place among the LISTENER messages, from 0
 * @param count how many LISTENER messages the exchange has, at least 1
 */
record ListenerValue(int port, int index, int count) {
  /** The most listeners one exchange can carry (16 bits). */
  static final int MAX_COUNT = 0xffff;

  ListenerValue {
    if (port < 0 || port > 0xffff) {
      throw new IllegalArgumentException("port " + port + " out of range");
    }
    if (count < 1 || count > MAX_COUNT || index < 0 || index >= count) {
      throw new IllegalArgumentException("listener " + index + " of " + count);
    }
  }

  /** The message value: the port alone for one listener, as version 1 did. */
  long encode() {
    if (count == 1) {
      return port;
    }
    return (long) index << 48 | (long) count << 32 | port;
  }

  /**
   * Reads a LISTENER value.
   *
   * @throws IOException if bits 16-31 are set or the index is not below the count
   */
  static ListenerValue decode(long value) throws IOException {
    int port = (int) (value & 0xffff);
    int reserved = (int) (value >>> 16 & 0xffff);
    int count = (int) (value >>> 32 & 0xffff);
    int index = (int) (value >>> 48 & 0xffff);
    if (reserved != 0) {
      throw new IOException(String.format("LISTENER value %016x: bits 16-31 are not 0", value));
    }
    int n = count == 0 ? 1 : count;
    if (index >= n) {
      throw new IOException(String.format("LISTENER value %016x: index %d of %d listeners", value,
          index, n));
    }
    return new ListenerValue(port, index, n);
  }
}
