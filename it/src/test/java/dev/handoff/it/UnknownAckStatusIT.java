package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.AckCodec;
import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Acknowledgement.Status;
import java.io.InputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** An acknowledgement with a status this proxy does not know (a newer app) costs nothing. */
@Timeout(60)
class UnknownAckStatusIT extends DaemonTest {
  @Test
  void unknownAckStatus_isReportedAsSuchLoggedOnceAndTheLinkKept() throws Exception {
    try (FakeApp fake = new FakeApp(socket, (n, handoff, link, raw) -> {
      for (int i = 0; i < 3; i++) { // three answers with status 9, then a real one
        ByteBuffer ack = ByteBuffer.allocate(AckCodec.LENGTH);
        AckCodec.encode(new Acknowledgement(handoff.header().connectionId(), Status.ADOPTED),
            ack);
        ack.put(5, (byte) 9).flip();
        while (ack.hasRemaining()) {
          raw.write(ack);
        }
      }
      return FakeApp.serveOneLine(handoff, link, "served " + n);
    })) {
      Daemon proxy = daemons.proxy(port, socket);
      for (int i = 0; i < 2; i++) {
        try (Socket s = EchoClient.connect(port)) {
          InputStream in = s.getInputStream();
          StringBuilder line = new StringBuilder();
          for (int c = in.read(); c != '\n' && c >= 0; c = in.read()) {
            line.append((char) c);
          }
          assertEquals("served " + i, line.toString());
        }
      }
      String log = proxy.stopAndLog();
      assertEquals(1, log.split("a status this proxy does not know", -1).length - 1,
          "logged once per link:\n" + log);
      assertTrue(log.contains("UNKNOWN_STATUS"), log);
      String beforeShutdown = log.replace("closed by the proxy (the proxy is shutting down)", "");
      assertFalse(beforeShutdown.contains("BAD_LENGTH") || beforeShutdown.contains("closed by"),
          "the link was kept until the shutdown:\n" + log);
      assertTrue(log.contains("unknown-status=6") && log.contains("handed-off=2")
          && log.contains("unacknowledged=0") && log.contains("resent=0"), log);
    }
  }
}
