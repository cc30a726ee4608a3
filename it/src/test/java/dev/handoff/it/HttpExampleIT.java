package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The HTTP/1.1 example server (examples/, scripts/http-example) behind a real {@code proxy}, with
 * real clients: curl from Debian and the JDK's HttpClient, on keep-alive connections, across a
 * {@code --take-over}.
 */
class HttpExampleIT extends DaemonTest {
  private static final Duration START = Duration.ofSeconds(30);

  private Daemon httpApp(String... options) throws IOException {
    List<String> args = new ArrayList<>(List.of(options));
    args.add(socket.toString());
    Daemon app = daemons.start("http-example", args.toArray(new String[0]));
    app.awaitLog("for proxy links", START);
    return app;
  }

  private String base() {
    return "http://127.0.0.1:" + port;
  }

  /** curl sends three GETs and a POST on one keep-alive connection; every byte is as expected. */
  @Test
  void curlReusesOneConnectionForEveryRequest() throws Exception {
    Assumptions.assumeTrue(onPath("curl"),
        "curl is not installed (apt-get install curl; .ci/run and scripts/test.sh install it)");
    Daemon app = httpApp();
    daemons.proxy(port, socket);
    String w = "\n[connects=%{num_connects} code=%{http_code}]\n";
    String post = "posted body\r\nwith CRLF, \u00e9 and a tab\t.";
    Process curl = new ProcessBuilder("curl", "-sS", "--http1.1", "--max-time", "20", "-w", w,
        base() + "/echo?x=hello%20w%C3%B6rld%2F%26", base() + "/", base() + "/echo?x=third",
        "--next", "-sS", "--http1.1", "--max-time", "20", "-w", w, "--data-binary", post,
        base() + "/echo")
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    byte[] out = curl.getInputStream().readAllBytes();
    assertTrue(curl.waitFor(30, TimeUnit.SECONDS), "curl finishes");
    assertEquals(0, curl.exitValue(), "curl succeeds; output:\n" + text(out));
    String all = text(out);
    String[] parts = all.split("\n\\[connects=", -1);
    assertEquals(5, parts.length, all);
    assertEquals("hello w\u00f6rld/&", parts[0], all);
    assertTrue(parts[1].startsWith("1 code=200]\n"), "the first request connects: " + all);
    Map<String, String> page = fields(parts[1].substring("1 code=200]\n".length()));
    assertEquals(Long.toString(app.pid()), page.get("pid"), all);
    assertEquals("2", page.get("request"), "the second request on its connection: " + all);
    assertEquals("false", page.get("migrated"), all);
    assertTrue(page.get("client").contains("127.0.0.1"), all);
    assertEquals("0 code=200]\nthird", parts[2], "reused the connection: " + all);
    assertEquals("0 code=200]\n" + post, parts[3], "POST echoed, connection reused: " + all);
    assertEquals("0 code=200]\n", parts[4], all);
  }

  /**
   * The JDK's HttpClient keeps connections open; a second server takes over while they are idle,
   * and the next requests on the same connections are answered by it, with each connection's
   * request count carried over. A connection half-way through a request stays with the old server,
   * which answers it there and then exits 0.
   */
  @Test
  void idleKeepAliveConnectionsMoveInATakeOver() throws Exception {
    Daemon old = httpApp("--log-level", "DEBUG"); // DEBUG: it logs each connection it adopts
    daemons.proxy(port, socket);
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(10)).build();
    Map<String, Long> lastRequestByClient = new HashMap<>();
    Random random = new Random(9);
    for (int round = 0; round < 2; round++) {
      echoChecks(client, random);
      // Last, so that each connection's count is known when the take-over comes.
      for (Map<String, String> page : pages(client, 3)) {
        assertEquals(Long.toString(old.pid()), page.get("pid"), page.toString());
        lastRequestByClient.merge(page.get("client"), Long.parseLong(page.get("request")),
            Math::max);
      }
    }
    int connections = lastRequestByClient.size();
    assertTrue(connections >= 1, lastRequestByClient.toString());

    // A raw connection stopped in the middle of a request's headers: it must not move.
    int adopted = count(old.log(), ": adopted ");
    try (Socket midRequest = new Socket("127.0.0.1", port)) {
      midRequest.setSoTimeout(20_000);
      OutputStream os = midRequest.getOutputStream();
      os.write("GET / HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
      os.flush();
      old.awaitCount(": adopted ", adopted + 1, START);
      // The old server has read the half request (its decoder holds it) once the kernel's
      // receive queue of its end of the connection is empty.
      Daemon.await("the old server reads the half request", START,
          () -> serverReceiveQueue(port, midRequest.getLocalPort()) == 0);

      Daemon next = httpApp("--take-over");
      old.awaitLog("connections stay here to finish", START);
      old.awaitLog("connections over in", START);
      String oldLog = old.log();
      assertTrue(oldLog.matches("(?s).*handed [1-9]\\d* connections over.*"),
          "the old server handed its idle connections over:\n" + oldLog);
      assertTrue(oldLog.contains("1 connections stay here to finish"),
          "the connection in the middle of a request stayed:\n" + oldLog);
      assertTrue(old.isAlive(), "the old server waits for the connection that stayed");

      // The rest of the request: answered by the old server, and then the connection closes.
      os.write("Connection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      os.flush();
      String answer = text(readToEnd(midRequest.getInputStream()));
      assertTrue(answer.startsWith("HTTP/1.1 200 OK\r\n"), answer);
      Map<String, String> page = fields(answer.substring(answer.indexOf("\r\n\r\n") + 4));
      assertEquals(Long.toString(old.pid()), page.get("pid"), "answered where it stayed");
      assertEquals("1", page.get("request"), answer);

      assertEquals(0, old.awaitExit(START), "the old server exits 0 after the take-over:\n"
          + old.log());

      // The same HttpClient, the same (moved) connections: the new server answers.
      Map<String, Long> firstAfter = new HashMap<>();
      for (Map<String, String> after : pages(client, 3)) {
        assertEquals(Long.toString(next.pid()), after.get("pid"), after.toString());
        if (lastRequestByClient.containsKey(after.get("client"))) {
          assertEquals("true", after.get("migrated"), after.toString());
          firstAfter.merge(after.get("client"), Long.parseLong(after.get("request")), Math::min);
        }
      }
      for (Map.Entry<String, Long> moved : firstAfter.entrySet()) {
        assertEquals(lastRequestByClient.get(moved.getKey()) + 1, moved.getValue(),
            "the request count of the connection from " + moved.getKey() + " moved with it");
      }
      int continued = firstAfter.size();
      assertTrue(continued >= 1, "at least one connection moved and carried on; before: "
          + lastRequestByClient + "\nnew server:\n" + next.log());
      java.util.regex.Matcher handed = java.util.regex.Pattern
          .compile("handed (\\d+) connections over").matcher(oldLog);
      assertTrue(handed.find(), oldLog);
      assertEquals(connections, Integer.parseInt(handed.group(1)), "every idle HttpClient"
          + " connection moved, and only those (" + continued + " carried on with their counts"
          + " in the requests after):\n" + oldLog);
      echoChecks(client, random);
    }
  }

  /**
   * The receive queue of the server's end of the loopback connection from {@code clientPort} to
   * {@code serverPort} (/proc/net/tcp): bytes the server has not read yet; -1 if not found.
   */
  private static int serverReceiveQueue(int serverPort, int clientPort) {
    String local = String.format(":%04X", serverPort);
    String remote = String.format(":%04X", clientPort);
    for (String table : new String[] {"/proc/net/tcp", "/proc/net/tcp6"}) {
      List<String> lines;
      try {
        lines = java.nio.file.Files.readAllLines(java.nio.file.Path.of(table));
      } catch (java.io.IOException e) {
        continue; // no IPv6 here
      }
      for (String line : lines) {
        String[] f = line.trim().split("\\s+");
        if (f.length > 4 && f[1].endsWith(local) && f[2].endsWith(remote) && f[3].equals("01")) {
          return Integer.parseInt(f[4].substring(f[4].indexOf(':') + 1), 16);
        }
      }
    }
    return -1;
  }

  /** {@code n} concurrent GET / on the client: each answer's fields. */
  private List<Map<String, String>> pages(HttpClient client, int n) throws Exception {
    List<CompletableFuture<HttpResponse<String>>> pending = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      pending.add(client.sendAsync(get("/"), HttpResponse.BodyHandlers.ofString()));
    }
    List<Map<String, String>> pages = new ArrayList<>();
    for (CompletableFuture<HttpResponse<String>> f : pending) {
      HttpResponse<String> r = f.get(20, TimeUnit.SECONDS);
      assertEquals(200, r.statusCode(), r.body());
      pages.add(fields(r.body()));
    }
    return pages;
  }

  /** A GET /echo?x= and a POST /echo of random bytes, answered byte for byte. */
  private void echoChecks(HttpClient client, Random random) throws Exception {
    HttpResponse<String> text = client.send(get("/echo?x=caf%C3%A9%20%2B%201"),
        HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    assertEquals(200, text.statusCode());
    assertEquals("caf\u00e9 + 1", text.body());
    byte[] body = new byte[1 + random.nextInt(100_000)];
    random.nextBytes(body);
    HttpResponse<byte[]> echoed = client.send(HttpRequest.newBuilder(URI.create(base() + "/echo"))
            .timeout(Duration.ofSeconds(20)).POST(HttpRequest.BodyPublishers.ofByteArray(body))
            .build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(200, echoed.statusCode());
    assertArrayEquals(body, echoed.body(), "POST /echo of " + body.length + " bytes");
  }

  private HttpRequest get(String path) {
    return HttpRequest.newBuilder(URI.create(base() + path)).timeout(Duration.ofSeconds(20))
        .GET().build();
  }

  /** The {@code key: value} lines of a GET / page. */
  private static Map<String, String> fields(String page) {
    Map<String, String> fields = new HashMap<>();
    for (String line : page.split("\n")) {
      int colon = line.indexOf(": ");
      if (colon > 0) {
        fields.put(line.substring(0, colon), line.substring(colon + 2));
      }
    }
    assertTrue(fields.containsKey("pid") && fields.containsKey("request"), page);
    return fields;
  }

  private static byte[] readToEnd(InputStream in) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buf = new byte[8192];
    for (int n; out.size() < (1 << 20) && (n = in.read(buf)) >= 0; ) {
      out.write(buf, 0, n);
    }
    return out.toByteArray();
  }

  private static int count(String text, String part) {
    int n = 0;
    for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + 1)) {
      n++;
    }
    return n;
  }

  private static String text(byte[] bytes) {
    return new String(bytes, StandardCharsets.UTF_8);
  }

  private static boolean onPath(String command) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (new File(dir, command).canExecute()) {
        return true;
      }
    }
    return false;
  }
}
