package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.jetty.HandoffConnector;
import dev.handoff.jetty.HandoffCustomizer;
import dev.handoff.server.Handoff;
import java.nio.file.Path;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.util.Callback;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * docs/LIBRARY.md's Jetty recipe, as written there: a Jetty 12 server with a {@link
 * HandoffConnector}, behind a real {@code proxy}, answering curl on a keep-alive connection with
 * the connection's Handoff facts and the real client as the remote address.
 */
class JettyRecipeIT extends DaemonTest {
  /** The recipe (docs/LIBRARY.md, "Jetty"). */
  static Server jettyBehindTheProxy(Path socket) throws Exception {
    Server server = new Server();
    server.addConnector(new HandoffConnector(server, socket));
    server.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) {
        Handoff handoff = HandoffCustomizer.handoff(request);
        String body = "connection=c" + handoff.connectionId() + "\n"
            + "client=" + handoff.client() + "\n"
            + "remote=" + Request.getRemoteAddr(request) + ":" + Request.getRemotePort(request)
            + "\n";
        Content.Sink.write(response, true, body, callback);
        return true;
      }
    });
    server.start();
    return server;
  }

  @Test
  void jettyServesCurlOnAHandedOffKeepAliveConnection() throws Exception {
    Assumptions.assumeTrue(PlainPrograms.onPath("curl"), "curl is not installed");
    Server server = jettyBehindTheProxy(socket);
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
