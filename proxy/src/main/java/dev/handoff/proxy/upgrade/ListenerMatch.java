package dev.handoff.proxy.upgrade;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Which listening socket received from the running proxy serves which configured listener, by the
 * socket's own local address (getsockname): the same port and the same address, a wildcard
 * ({@code 0.0.0.0} or {@code ::}) matching only the same wildcard. Pure: it looks at addresses,
 * never at descriptors; its caller acts on the result.
 */
final class ListenerMatch {
  /** For each configured listener, the index of its received socket, or -1 to bind afresh. */
  private final int[] received;
  /** The received sockets no configured listener wants, by index. */
  private final List<Integer> unwanted;

  private ListenerMatch(int[] received, List<Integer> unwanted) {
    this.received = received;
    this.unwanted = List.copyOf(unwanted);
  }

  /**
   * Matches {@code got} (the received sockets' local addresses, null for one whose address could
   * not be read) to {@code wanted} (the configured addresses). Each received socket serves at most
   * one listener, the first that wants it.
   */
  static ListenerMatch of(List<InetSocketAddress> wanted, List<InetSocketAddress> got) {
    int[] received = new int[wanted.size()];
    Arrays.fill(received, -1);
    boolean[] used = new boolean[got.size()];
    for (int w = 0; w < wanted.size(); w++) {
      for (int g = 0; g < got.size(); g++) {
        if (!used[g] && same(wanted.get(w), got.get(g))) {
          received[w] = g;
          used[g] = true;
          break;
        }
      }
    }
    List<Integer> unwanted = new ArrayList<>();
    for (int g = 0; g < got.size(); g++) {
      if (!used[g]) {
        unwanted.add(g);
      }
    }
    return new ListenerMatch(received, unwanted);
  }

  /** The same port and address; {@code 0.0.0.0} and {@code ::} are two different addresses. */
  static boolean same(InetSocketAddress wanted, InetSocketAddress got) {
    return got != null && wanted.getPort() == got.getPort()
        && wanted.getAddress().equals(got.getAddress());
  }

  /** The index of the received socket for configured listener {@code listener}, or -1. */
  int receivedFor(int listener) {
    return received[listener];
  }

  /** The indexes of the received sockets that no configured listener wants. */
  List<Integer> unwanted() {
    return unwanted;
  }
}
