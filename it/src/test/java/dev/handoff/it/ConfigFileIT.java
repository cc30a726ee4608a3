package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code proxy --config FILE}: several listeners in one proxy, each with its own routes and apps,
 * checked with {@code --check-config}, one metrics endpoint with a {@code listener} label, and
 * SIGHUP re-reading the file. Which app served a client is read from the apps' DEBUG logs, which
 * name each adopted connection with its client port.
 */
@Timeout(180)
class ConfigFileIT {
  private static final Duration START = Duration.ofSeconds(60);

  @TempDir Path dir;
  private DaemonSet daemons;

  @BeforeEach
  void start(TestInfo test) {
    daemons = new DaemonSet(test);
  }

  @AfterEach
  void stop() throws InterruptedException {
    daemons.close();
  }

  /** Runs {@code scripts/proxy ARGS}, expecting it to exit by itself; returns status and output. */
  private static Object[] runProxy(String... args) throws Exception {
    List<String> command = new java.util.ArrayList<>();
    command.add(Daemon.ROOT.resolve("scripts/proxy").toString());
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), out);
    return new Object[] {p.exitValue(), out};
  }

  private Daemon echoApp(Path socket) throws IOException {
    Daemon app = daemons.start("app", "--log-level", "debug", socket.toString());
    app.awaitLog("for proxy links", START);
    return app;
  }

  /** Sends an HTTP request head for {@code host} on a new connection; returns the client port. */
  private static int request(int port, String host) throws IOException {
    try (Socket s = EchoClient.connect(port)) {
      s.setSoTimeout(20_000);
      byte[] head = ("GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII);
      OutputStream out = s.getOutputStream();
      out.write(head);
      InputStream in = s.getInputStream();
      assertEquals(new String(head, StandardCharsets.US_ASCII),
          new String(EchoClient.readExactly(in, head.length), StandardCharsets.US_ASCII),
          "the app read the request whole, from its first byte");
      return s.getLocalPort();
    }
  }

  private static void awaitServedBy(Daemon app, int clientPort) throws InterruptedException {
    app.awaitLog(":" + clientPort + " ", Duration.ofSeconds(10));
  }

  /** GET /metrics on a connection of its own that the server closes (no keep-alive to count). */
  private static String scrape(int port) throws IOException {
    try (Socket s = EchoClient.connect(port)) {
      s.setSoTimeout(20_000);
      s.getOutputStream().write(("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Connection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void twoListenersWithRoutesOfTheirOwnShareOneProxy() throws Exception {
    Path shop = dir.resolve("shop.sock");
    Path web = dir.resolve("web.sock");
    Daemon shopApp = echoApp(shop);
    Daemon webApp = echoApp(web);
    int one = EchoClient.freePort();
    int two = EchoClient.freePort();
    int metrics = EchoClient.freePort();
    Path config = dir.resolve("proxy.yaml");
    Files.writeString(config, String.join("\n",
        "listeners:",
        "  - name: front",
        "    listen: 127.0.0.1:" + one,
        "    routes:",
        "      - name: shop",
        "        match: host:shop.example",
        "        apps: [" + shop + "]",
        "      - match: default",
        "        apps: [" + web + "]",
        "    peek: {timeout: 5s}",
        "  - name: back",
        "    listen: " + two,
        "    routes:",
        "      - match: default",
        "        apps: [" + shop + "]",
        ""));

    Object[] check = runProxy("--config", config.toString(), "--check-config");
    assertEquals(0, check[0], (String) check[1]);
    assertTrue(((String) check[1]).contains("listener front on 127.0.0.1:" + one
        + ": shop (host:shop.example) -> [" + shop + "]; default -> [" + web + "]"),
        (String) check[1]);
    assertTrue(((String) check[1]).contains("configuration OK: 2 listeners"), (String) check[1]);

    Daemon proxy = daemons.start("proxy", "--config", config.toString(), "--metrics",
        "127.0.0.1:" + metrics);
    proxy.awaitLog("listener back on", START);
    proxy.awaitLog("linked to app at " + shop, START);
    proxy.awaitLog("linked to app at " + web, START);
    int baseline = proxy.settledFds();

    awaitServedBy(shopApp, request(one, "shop.example"));
    awaitServedBy(webApp, request(one, "www.example"));
    awaitServedBy(shopApp, request(two, "www.example")); // the back listener has one route
    int webPort = request(one, "other.example");
    awaitServedBy(webApp, webPort);
    assertFalse(shopApp.log().contains(":" + webPort + " "), "served by one app only");

    String scrape = scrape(metrics);
    assertTrue(scrape.matches("(?s).*handoff_proxy_connections_accepted_total\\{[^}]*listener="
        + "\"front\"[^}]*} 3\\.0.*"), scrape);
    assertTrue(scrape.matches("(?s).*handoff_proxy_connections_accepted_total\\{[^}]*listener="
        + "\"back\"[^}]*} 1\\.0.*"), scrape);

    // SIGHUP: the file is checked again; a broken edit is reported and changes nothing.
    Files.writeString(config, Files.readString(config).replace("match: default", "match: nope"));
    proxy.signal("HUP");
    proxy.awaitLog("is not usable now", Duration.ofSeconds(10));
    assertTrue(proxy.log().contains("proxy.yaml:8:16: listeners[0].routes[1].match"),
        proxy.log());
    awaitServedBy(webApp, request(one, "www.example"));

    assertEquals(baseline, proxy.awaitFds(baseline, Duration.ofSeconds(10)),
        "proxy descriptors back to baseline");
    proxy.stopAndLog();
  }

  /**
   * {@code --sticky}: every connection of one client address lands on the same app, for several
   * addresses (127.0.0.x), while both apps are linked; without it they would alternate. Which app
   * an address goes to depends on the apps' socket paths, new in every run: 24 addresses all on one
   * app would happen once in 2^23 runs (with 8, once in 128, which a run met).
   */
  @Test
  void stickySendsEachClientAddressToOneApp() throws Exception {
    Path a = dir.resolve("a.sock");
    Path b = dir.resolve("b.sock");
    Daemon appA = echoApp(a);
    Daemon appB = echoApp(b);
    int port = EchoClient.freePort();
    Daemon proxy = daemons.start("proxy", "--sticky", "--bind", "127.0.0.1",
        Integer.toString(port), a.toString(), b.toString());
    proxy.awaitLog("linked to app at " + a, START);
    proxy.awaitLog("linked to app at " + b, START);
    java.util.Set<Daemon> used = new java.util.HashSet<>();
    for (int x = 2; x < 26; x++) {
      java.net.InetAddress from = java.net.InetAddress.getByName("127.0.0." + x);
      Daemon owner = null;
      for (int i = 0; i < 3; i++) {
        int clientPort;
        try (Socket s = new Socket()) {
          s.bind(new java.net.InetSocketAddress(from, 0));
          s.connect(new java.net.InetSocketAddress("127.0.0.1", port), 10_000);
          s.setSoTimeout(20_000);
          EchoClient.assertEchoes(s, ("hello from " + from).getBytes(StandardCharsets.UTF_8));
          clientPort = s.getLocalPort();
        }
        String client = from.getHostAddress() + ":" + clientPort + " ";
        Daemon.await("an app logs the client " + client, Duration.ofSeconds(10),
            () -> appA.log().contains(client) || appB.log().contains(client));
        Daemon servedBy = appA.log().contains(client) ? appA : appB;
        if (owner == null) {
          owner = servedBy;
        }
        assertEquals(owner, servedBy, "connection " + i + " from " + from + " on another app");
      }
      used.add(owner);
    }
    assertEquals(2, used.size(), "24 addresses spread over both apps");
    proxy.stopAndLog();
  }

  @Test
  void aWrongFileIsAUsageErrorNamingFileLineAndField() throws Exception {
    Path config = dir.resolve("bad.yaml");
    Files.writeString(config, "listeners:\n  - listen: 8080\n    routes:\n"
        + "      - match: host:shop.example\n        apps: [/run/shop.sock]\n        wieght: 2\n");
    for (String[] args : new String[][] {{"--config", config.toString(), "--check-config"},
        {"--config", config.toString()}}) {
      Object[] r = runProxy(args);
      assertEquals(2, r[0], (String) r[1]);
      assertTrue(((String) r[1]).contains(config + ":6:9: listeners[0].routes[0].wieght: unknown"
          + " key; expected one of apps, match, name"), (String) r[1]);
    }
    Object[] both = runProxy("--config", config.toString(), "8080", "/run/x.sock");
    assertEquals(2, both[0], (String) both[1]);
    assertTrue(((String) both[1]).contains("replaces PORT, SOCKET and --route"), (String) both[1]);
  }
}
