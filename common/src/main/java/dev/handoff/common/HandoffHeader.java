package dev.handoff.common;

import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * What travels with each descriptor: the facts the proxy knew when it accepted the connection.
 *
 * <p>The app could learn the addresses from the descriptor itself (getpeername), but the proxy has
 * them for free and the app should not need a syscall to log a connection.
 *
 * @param connectionId unique within one proxy run, assigned in accept order starting at 1
 * @param acceptedAtMicros wall-clock time of the accept, microseconds since the epoch
 * @param client the remote end of the TCP connection
 * @param local the address and port the client connected to
 */
public record HandoffHeader(long connectionId, long acceptedAtMicros, InetSocketAddress client,
    InetSocketAddress local) {

  public HandoffHeader {
    Objects.requireNonNull(client, "client");
    Objects.requireNonNull(local, "local");
  }

  @Override
  public String toString() {
    return "c" + connectionId + " " + client + " -> " + local;
  }
}
