package dev.handoff.proxy.link;

import dev.handoff.common.Closeables;
import dev.handoff.common.Acknowledgement;
import dev.handoff.common.HandoffChannel;
import dev.handoff.common.HandoffHeader;
import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;
import org.newsclub.net.unix.AFUNIXSocketCredentials;

/** A {@link Transport} over a {@link HandoffChannel} to an app of an allowed uid. */
final class ChannelTransport implements Transport {
  private final HandoffChannel channel;
  private final String peer;

  private ChannelTransport(HandoffChannel channel, String peer) {
    this.channel = channel;
    this.peer = peer;
  }

  /** Connects to {@code socket} and hands the link over only if the app runs as an allowed uid. */
  static Connector connector(Set<Integer> allowedUids) {
    return socket -> connect(socket, allowedUids);
  }

  private static Transport connect(Path socket, Set<Integer> allowedUids) throws IOException {
    HandoffChannel ch = HandoffChannel.connect(socket);
    return new ChannelTransport(ch, allowedPeer(ch, socket, allowedUids, "app"));
  }

  /**
   * The peer of a link just made, described ("pid P, uid U") if it runs as an allowed uid
   * (SO_PEERCRED). Otherwise {@code ch} is closed and this throws.
   *
   * @param role what the peer is, for the messages: "app", "receiver"
   * @throws RefusedPeerException if the peer runs as another uid
   * @throws IOException if its credentials cannot be read
   */
  static String allowedPeer(HandoffChannel ch, Path socket, Set<Integer> allowedUids,
      String role) throws IOException {
    try {
      AFUNIXSocketCredentials creds = ch.peerCredentials();
      String peer = "pid " + creds.getPid() + ", uid " + creds.getUid();
      if (!allowedUids.contains((int) creds.getUid())) {
        throw new RefusedPeerException(role + " at " + socket + " runs as " + peer
            + ", not an allowed uid " + allowedUids + "; refusing to hand it connections");
      }
      return peer;
    } catch (IOException | RuntimeException e) {
      Closeables.closeQuietly(ch);
      if (e instanceof RefusedPeerException r) {
        throw r;
      }
      throw new IOException("credentials of the " + role + " at " + socket + ": "
          + e.getMessage(), e);
    }
  }

  @Override
  public void send(HandoffHeader header, FileDescriptor fd) throws IOException {
    channel.send(header, fd);
  }

  @Override
  public Acknowledgement receiveAck() throws IOException {
    return channel.receiveAck();
  }

  @Override
  public void shutdownOutput() throws IOException {
    channel.shutdownOutput();
  }

  @Override
  public void close() {
    Closeables.closeQuietly(channel);
  }

  @Override
  public boolean isOpen() {
    return channel.isOpen();
  }

  @Override
  public String peer() {
    return peer;
  }
}
