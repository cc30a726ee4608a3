package dev.handoff.common;

import java.net.InetSocketAddress;

/** Headers of connections that need no socket: for messages that carry no descriptor. */
final class FakeHeaders {
  private FakeHeaders() {}

  static HandoffHeader of(long id) {
    return new HandoffHeader(id, 1_000_000L * id,
        new InetSocketAddress("127.0.0.1", 40000 + (int) (id % 20000)),
        new InetSocketAddress("127.0.0.1", 1987));
  }
}
