package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The Prometheus endpoints of the running processes, and the SIGUSR1 status line. */
@Timeout(120)
class MetricsIT {
  @TempDir Path dir;
  private final HttpClient http = HttpClient.newHttpClient();

  private String scrape(int port) throws Exception {
    HttpResponse<String> response = http.send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, response.statusCode());
    assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
    return response.body();
  }

  static double value(String scrape, String series) {
    // The app's meters carry the server's socket path as a label: {socket="..."}.
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + "(\\{[^}]*\\})? ([0-9.eE+-]+)$")
        .matcher(scrape);
    assertTrue(m.find(), series + " is exposed:\n" + scrape);
    return Double.parseDouble(m.group(2));
  }

  @Test
  void countersAndTimingsMoveWithTrafficInBothProcesses(TestInfo test) throws Exception {
    Path socket = dir.resolve("pipe.sock");
    int port = EchoClient.freePort();
    int proxyMetrics = EchoClient.freePort();
    int appMetrics = EchoClient.freePort();
    try (DaemonSet daemons = new DaemonSet(test)) {
      Daemon app = daemons.app(socket, "--metrics", "127.0.0.1:" + appMetrics);
      Daemon proxy = daemons.proxy(port, socket, "--metrics", "127.0.0.1:" + proxyMetrics);
      String before = scrape(proxyMetrics);
      assertEquals(0.0, value(before, "handoff_proxy_handoffs_sent_total"));
      for (int i = 0; i < 25; i++) {
        EchoClient.echoOnce(port, new byte[1000]);
      }
      try (var held = EchoClient.connect(port)) {
        EchoClient.assertEchoes(held, new byte[10]);
        String p = scrape(proxyMetrics);
        assertEquals(26.0, value(p, "handoff_proxy_connections_accepted_total"));
        assertEquals(26.0, value(p, "handoff_proxy_handoffs_sent_total"));
        assertEquals(26.0, value(p, "handoff_proxy_handoffs_acknowledged_total{status=\"adopted\"}"));
        assertEquals(0.0, value(p, "handoff_proxy_handoffs_resent_total"));
        assertEquals(1.0, value(p, "handoff_proxy_links_up"));
        assertEquals(26.0, value(p, "handoff_proxy_handoff_latency_seconds_count"));
        assertTrue(p.contains("handoff_proxy_handoff_latency_seconds_bucket{le="),
            "latency is a histogram");
        String a = scrape(appMetrics);
        assertEquals(26.0, value(a, "handoff_app_handoffs_adopted_total"));
        assertEquals(25_010.0, value(a, "handoff_app_echoed_bytes_total"));
        assertEquals(1.0, value(a, "handoff_app_connections_live"));
        assertEquals(1.0, value(a, "handoff_app_links_up"));
        assertTrue(a.matches("(?s).*handoff_app_handoff_latency_seconds_bucket\\{[^}]*le=.*"), a);
      }
      app.signal("USR1");
      proxy.signal("USR1");
      app.awaitLog("status: adopted=26", Duration.ofSeconds(5));
      proxy.awaitLog("status: accepted=26", Duration.ofSeconds(5));
    }
  }
}
