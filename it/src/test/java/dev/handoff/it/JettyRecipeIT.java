package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.jetty.HandoffConnector;
import dev.handoff.jetty.HandoffCustomizer;
import dev.handoff.server.Handoff;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
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
      String base = "http://127.0.0.1:" + port + "/";
      Process curl = new ProcessBuilder("curl", "-sS", "--http1.1", "--max-time", "30", "-w",
          "[connects=%{num_connects} local=%{local_port}]\n", base, base)
          .redirectError(ProcessBuilder.Redirect.INHERIT).start();
      String out = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(curl.waitFor(60, TimeUnit.SECONDS), "curl finishes");
      assertEquals(0, curl.exitValue(), out);
      String[] parts = out.split("\\[connects=");
      assertEquals(3, parts.length, out);
      String curlPort = parts[1].replaceAll("(?s).*local=(\\d+)].*", "$1");
      assertTrue(parts[0].contains("client=/127.0.0.1:" + curlPort + "\n"), out);
      assertTrue(parts[0].contains("remote=127.0.0.1:" + curlPort + "\n"),
          "the request's remote address is the real client: " + out);
      assertTrue(parts[1].startsWith("1 "), out);
      assertTrue(parts[2].startsWith("0 "), "the second request reuses the connection: " + out);
      assertEquals(parts[0].lines().findFirst(), parts[1].lines().skip(1).findFirst(),
          "both requests came on the same handed-off connection: " + out);
    } finally {
      server.stop();
    }
  }
}
