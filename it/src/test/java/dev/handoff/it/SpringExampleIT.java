package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The Spring Boot example (examples-spring/: MVC on Jetty with the handoff starter, started by
 * scripts/spring-example) behind a real {@code proxy}: curl on a keep-alive connection, a thousand
 * requests from wrk, the client's connection held by the Spring JVM, and three upgrades under
 * continuous keep-alive traffic without a failed request.
 */
class SpringExampleIT extends DaemonTest {
  /** A Spring Boot start on a machine shared with other builds can take a minute. */
  private static final Duration START = Duration.ofSeconds(240);
  private static final Pattern DIRECT_PORT = Pattern.compile("Jetty started on ports (\\d+)");

  private Daemon springApp(String... options) throws IOException {
    List<String> args = new ArrayList<>(List.of(options));
    args.add(socket.toString());
    Daemon app = daemons.start("spring-example", args.toArray(new String[0]));
    app.awaitLog("Started SpringExample", START);
    return app;
  }

  private static int directPort(Daemon app) {
    Matcher m = DIRECT_PORT.matcher(app.log());
    assertTrue(m.find(), "the example logs its own port:\n" + app.log());
    return Integer.parseInt(m.group(1));
  }

  /**
   * curl's two GETs share one connection, answered by the Spring JVM with the connection's Handoff
   * facts; lsof shows that JVM holding the client's connection; wrk's thousand requests succeed;
   * the library's meters are in the application's MeterRegistry, /actuator/metrics counting the
   * handoffs the JVM adopted.
   */
  @Test
  void springJvmServesCurlAndWrkThroughTheProxy() throws Exception {
    Assumptions.assumeTrue(PlainPrograms.onPath("curl"), "curl is not installed");
    Assumptions.assumeTrue(PlainPrograms.onPath("wrk"),
        "wrk is not installed (apt-get install wrk; .ci/run and scripts/test.sh install it)");
    Assumptions.assumeTrue(PlainPrograms.onPath("lsof"), "lsof is not installed");
    Daemon app = springApp();
    Daemon proxy = daemons.proxy(port, socket);
    String base = "http://127.0.0.1:" + port + "/";

    CurlTwice curl = CurlTwice.get(base);
    String out = curl.toString();
    Map<String, String> first = fields(curl.first());
    assertEquals(Long.toString(app.pid()), first.get("pid"), out);
    assertTrue(curl.reused(), "the second GET reuses the connection: " + out);
    assertEquals(first.get("connection"), fields(curl.second()).get("connection"), out);
    assertEquals("/127.0.0.1:" + curl.curlPort(), first.get("client"),
        "the Handoff facts name curl's own address: " + out);
    assertEquals("127.0.0.1:" + curl.curlPort(), first.get("remote"),
        "the servlet request's remote address is curl's: " + out);
    assertEquals("false", first.get("migrated"), out);

    try (KeepAliveHttpClient held = new KeepAliveHttpClient(port)) {
      assertEquals(200, held.get("/").status());
      String lsof = run("lsof", "-nP", "-a", "-p", Long.toString(app.pid()), "-iTCP");
      assertTrue(lsof.contains("->127.0.0.1:" + held.localPort() + " (ESTABLISHED)"),
          "the Spring JVM holds the client's connection (client port " + held.localPort()
              + "):\n" + lsof);
      String proxyLsof = run("lsof", "-nP", "-a", "-p", Long.toString(proxy.pid()), "-iTCP");
      assertFalse(proxyLsof.contains("->127.0.0.1:" + held.localPort() + " "),
          "the proxy let the connection go:\n" + proxyLsof);
    }

    // Each of wrk's two threads stops after 500 responses: a thousand requests in all.
    Path script = dir.resolve("stop-after-500.lua");
    Files.writeString(script, "local n = 0\n"
        + "response = function(status, headers, body)\n"
        + "  n = n + 1\n"
        + "  if n >= 500 then wrk.thread:stop() end\n"
        + "end\n");
    String wrk = run("wrk", "-t2", "-c8", "-d30s", "--timeout", "20s", "-s", script.toString(),
        base);
    Matcher done = Pattern.compile("(\\d+) requests in").matcher(wrk);
    assertTrue(done.find(), wrk);
    assertTrue(Integer.parseInt(done.group(1)) >= 1000, "wrk made a thousand requests:\n" + wrk);
    assertFalse(wrk.contains("Socket errors"), "no connect, read, write or timeout error:\n" + wrk);
    assertFalse(wrk.contains("Non-2xx"), "every response 200:\n" + wrk);
    String health = run("curl", "-sS", "--max-time", "30",
        "http://127.0.0.1:" + directPort(app) + "/actuator/health");
    assertTrue(health.contains("\"handoff\"") && health.contains("taking handoffs"),
        "/actuator/health reports the handoff link: " + health);
    String metrics = "http://127.0.0.1:" + directPort(app) + "/actuator/metrics";
    String names = run("curl", "-sS", "--max-time", "30", metrics);
    assertTrue(names.contains("\"handoff.app.handoffs.adopted\""),
        "/actuator/metrics lists the library's meters: " + names);
    String adopted = run("curl", "-sS", "--max-time", "30",
        metrics + "/handoff.app.handoffs.adopted");
    Matcher count = Pattern.compile("\"statistic\":\"COUNT\",\"value\":([0-9.E]+)")
        .matcher(adopted);
    assertTrue(count.find(), adopted);
    assertTrue(Double.parseDouble(count.group(1)) >= 10,
        "curl's, the held client's and wrk's eight connections were adopted: " + adopted);
  }

  /**
   * The webflux profile: WebFlux on Reactor Netty, the handed-off connections on the library's
   * Netty transport; curl's two GETs share one connection, answered with its Handoff facts.
   */
  @Test
  void webfluxServesCurlThroughTheProxyOnTheNettyTransport() throws Exception {
    Assumptions.assumeTrue(PlainPrograms.onPath("curl"), "curl is not installed");
    Daemon app = springApp("--webflux");
    assertTrue(app.log().contains("Netty started on port"),
        "Spring Boot's own server is Reactor Netty:\n" + app.log());
    daemons.proxy(port, socket);
    String base = "http://127.0.0.1:" + port + "/";
    CurlTwice curl = CurlTwice.get(base);
    String out = curl.toString();
    Map<String, String> first = fields(curl.first());
    assertEquals(Long.toString(app.pid()), first.get("pid"), out);
    assertEquals("/127.0.0.1:" + curl.curlPort(), first.get("client"), out);
    assertEquals("127.0.0.1:" + curl.curlPort(), first.get("remote"), out);
    assertTrue(curl.reused(), "the second GET reuses the connection: " + out);
  }

  /**
   * Four clients send requests continuously on keep-alive connections through the proxy while the
   * app is upgraded three times (scripts/spring-example --take-over): no request fails, each
   * instance answers, and connections move to the new instance without a reconnect.
   */
  @Test
  void threeUpgradesUnderKeepAliveTrafficFailNoRequest() throws Exception {
    Daemon current = springApp();
    daemons.proxy(port, socket);
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger requests = new AtomicInteger();
    List<String> failures = Collections.synchronizedList(new ArrayList<>());
    Set<String> pids = Collections.synchronizedSet(new HashSet<>());
    AtomicInteger movedWithoutReconnect = new AtomicInteger();
    AtomicInteger closedByServer = new AtomicInteger();
    Map<Integer, String> lastPid = new java.util.concurrent.ConcurrentHashMap<>();
    List<Thread> clients = new ArrayList<>();
    long hardDeadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(20);
    for (int c = 0; c < 4; c++) {
      int id = c;
      Thread t = new Thread(() -> {
        KeepAliveHttpClient client = new KeepAliveHttpClient(port);
        String previous = null;
        while (!stop.get() && System.nanoTime() < hardDeadline) {
          try {
            KeepAliveHttpClient.Response r = client.get("/");
            requests.incrementAndGet();
            if (r.status() != 200) {
              failures.add("client " + id + ": status " + r.status());
            }
            String pid = r.fields().get("pid");
            pids.add(pid);
            lastPid.put(id, pid);
            if (!r.newConnection() && previous != null && !previous.equals(pid)) {
              movedWithoutReconnect.incrementAndGet();
            }
            if ("close".equalsIgnoreCase(r.headers().get("connection"))) {
              closedByServer.incrementAndGet();
            }
            previous = pid;
          } catch (IOException | RuntimeException e) {
            failures.add("client " + id + ": " + e);
            client.close();
            previous = null;
          }
        }
        client.close();
      }, "keep-alive-client-" + c);
      t.start();
      clients.add(t);
    }
    try {
      awaitRequests(requests, 200);
      for (int round = 1; round <= 3; round++) {
        Daemon next = springApp("--take-over");
        assertEquals(0, current.awaitExit(Duration.ofSeconds(120)),
            "the old instance exits 0 after the take-over:\n" + current.log());
        assertTrue(current.log().contains("connections pause at their next request boundary"),
            current.log());
        String nextPid = Long.toString(next.pid());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!(lastPid.size() == 4 && lastPid.values().stream().allMatch(nextPid::equals))) {
          assertTrue(System.nanoTime() < deadline, "every client reaches instance " + round
              + " (pid " + nextPid + "): " + lastPid + "; failures " + failures);
          assertTrue(failures.isEmpty(), "no failed request: " + failures);
          Thread.sleep(20);
        }
        current = next;
      }
      awaitRequests(requests, requests.get() + 200);
    } finally {
      stop.set(true);
      for (Thread t : clients) {
        t.join(TimeUnit.SECONDS.toMillis(60));
      }
    }
    assertEquals(List.of(), failures, requests.get() + " requests");
    assertEquals(4, pids.size(), "four instances answered: " + pids);
    assertTrue(movedWithoutReconnect.get() > 0, "some connections moved to the new instance"
        + " without a reconnect (" + closedByServer.get() + " were closed by the old one with"
        + " Connection: close)");
    System.out.printf("upgrades: %d requests, %d failures, %d connection moves seen by clients,"
        + " %d connections ended with Connection: close%n", requests.get(), failures.size(),
        movedWithoutReconnect.get(), closedByServer.get());
  }

  private static Map<String, String> fields(String body) {
    return new KeepAliveHttpClient.Response(200, Map.of(), body, true).fields();
  }

  private static void awaitRequests(AtomicInteger requests, int atLeast)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (requests.get() < atLeast) {
      assertTrue(System.nanoTime() < deadline, "clients made " + requests.get() + " of "
          + atLeast + " requests");
      Thread.sleep(20);
    }
  }

  private static String run(String... command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(180, TimeUnit.SECONDS), String.join(" ", command) + " finishes");
    return out;
  }
}
