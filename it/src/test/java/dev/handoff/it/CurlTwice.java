package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * curl's two GETs of one URL, which curl sends on one keep-alive connection: the two bodies, and
 * for each whether it opened a connection, and curl's own port.
 *
 * @param first the first body
 * @param second the second body
 * @param reused whether the second GET went on the first one's connection
 * @param curlPort the local port of curl's connection
 */
record CurlTwice(String first, String second, boolean reused, int curlPort) {
  static CurlTwice get(String url) throws IOException, InterruptedException {
    Process curl = new ProcessBuilder("curl", "-sS", "--http1.1", "--max-time", "30", "-w",
        "[connects=%{num_connects} local=%{local_port}]\n", url, url)
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String out = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(curl.waitFor(60, TimeUnit.SECONDS), "curl finishes");
    assertEquals(0, curl.exitValue(), out);
    String[] parts = out.split("\\[connects=");
    assertEquals(3, parts.length, out);
    assertTrue(parts[1].startsWith("1 "), "the first GET connects: " + out);
    int port = Integer.parseInt(parts[1].replaceAll("(?s)^1 local=(\\d+)].*", "$1"));
    String second = parts[1].substring(parts[1].indexOf("]\n") + 2);
    return new CurlTwice(parts[0], second, parts[2].startsWith("0 "), port);
  }
}
