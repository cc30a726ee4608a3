package dev.handoff.server;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.HandoffChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

/**
 * Run by {@link WithoutMicrometerTest} in a JVM whose class path has no Micrometer: binds a
 * server, hands it a connection and echoes through it; prints OK.
 */
public final class WithoutMicrometerMain {
  private WithoutMicrometerMain() {}

  public static void main(String[] args) throws Exception {
    try {
      Class.forName("io.micrometer.core.instrument.MeterRegistry");
      throw new IllegalStateException("Micrometer is on the class path");
    } catch (ClassNotFoundException expected) {
      // as it should be
    }
    Path socket = Path.of(args[0]);
    try (HandoffServer server = TestConnections.echoingServer(1).bind(socket);
        HandoffChannel link = HandoffChannel.connect(socket);
        SocketChannel client = TestConnections.handOver(link, 1)) {
      Acknowledgement ack = link.receiveAck();
      if (ack.status() != Acknowledgement.Status.ADOPTED) {
        throw new IllegalStateException("answered " + ack);
      }
      String back = TestConnections.echo(client, "echo");
      System.out.println(back.equals("echo") ? "OK " + server.summary() : "echoed " + back);
    }
  }
}
