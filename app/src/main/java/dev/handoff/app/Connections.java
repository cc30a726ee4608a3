package dev.handoff.app;

import dev.handoff.server.Handoff;
import io.netty.channel.Channel;

/** How the app's logs name a connection: the proxy's id when handed off, else the channel. */
final class Connections {
  private Connections() {}

  static String name(Channel channel) {
    Handoff handoff = Handoff.of(channel);
    return handoff != null ? "c" + handoff.connectionId() : "direct " + channel.remoteAddress();
  }
}
