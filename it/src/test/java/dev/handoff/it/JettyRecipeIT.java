package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.jetty.HandoffConnector;
import java.nio.file.Path;
import org.eclipse.jetty.server.Server;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * docs/LIBRARY.md's Jetty recipe, taken from the document itself and compiled against the
 * library: a Jetty 12 server with a {@link HandoffConnector}, behind a real {@code proxy},
 * answering curl on a keep-alive connection with the connection's Handoff facts and the real
 * client as the remote address.
 */
class JettyRecipeIT extends DaemonTest {
  @Test
  void jettyServesCurlOnAHandedOffKeepAliveConnection() throws Exception {
    Assumptions.assumeTrue(PlainPrograms.onPath("curl"), "curl is not installed");
    Server server = (Server) DocExamples.compile("docs/LIBRARY.md", "JettyServer", dir)
        .getMethod("start", Path.class).invoke(null, socket);
    try {
      daemons.proxy(port, socket);
      CurlTwice curl = CurlTwice.get("http://127.0.0.1:" + port + "/");
      String out = curl.toString();
      assertTrue(curl.first().contains("client=/127.0.0.1:" + curl.curlPort() + "\n"), out);
      assertTrue(curl.first().contains("remote=127.0.0.1:" + curl.curlPort() + "\n"),
          "the request's remote address is the real client: " + out);
      assertTrue(curl.reused(), "the second request reuses the connection: " + out);
      assertEquals(curl.first(), curl.second(),
          "both requests came on the same handed-off connection: " + out);
    } finally {
      server.stop();
    }
  }
}
