package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import dev.handoff.server.HandoffServer;
import dev.handoff.server.HandoffServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * {@code proxy --route}: connections land on the app of their TLS server name, ALPN protocol or
 * HTTP Host, picked from their first bytes read with MSG_PEEK, through the real launchers and real
 * clients (openssl s_client, curl, the JDK's TLS client); each TLS app completes the handshake
 * itself ({@code scripts/tls-example}). A server that speaks first reached on the default route
 * after the peek timeout. And the bounds: silence, garbage, a 1 MiB first write,
 * 1,000 clients peeked at at once, a shutdown while peeking; descriptors back to baseline.
 */
class RoutingIT extends DaemonTest {
  /** Starting a JVM on a loaded 2-core machine can take long; this is no check of the proxy. */
  private static final Duration START = Duration.ofSeconds(60);

  private Path cert;
  private Path key;

  private void makeCertificate() throws Exception {
    Assumptions.assumeTrue(onPath("openssl"), "openssl is not installed");
    cert = dir.resolve("cert.pem");
    key = dir.resolve("key.pem");
    run(List.of("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key.toString(), "-out",
        cert.toString(), "-days", "2", "-subj", "/CN=example.test", "-addext",
        "subjectAltName=DNS:*.example.test,DNS:example.test"), null);
  }

  private Daemon tlsApp(String name, Path socket, String... options) throws IOException {
    List<String> args = new ArrayList<>(List.of("--cert", cert.toString(), "--key",
        key.toString(), "--name", name));
    args.addAll(List.of(options));
    args.add(socket.toString());
    Daemon app = daemons.start("tls-example", args.toArray(new String[0]));
    app.awaitLog("for proxy links", START);
    return app;
  }

  private Daemon echoApp(Path socket) throws IOException {
    Daemon app = daemons.start("app", socket.toString());
    app.awaitLog("for proxy links", START);
    return app;
  }

  private Daemon httpApp(Path socket) throws IOException {
    Daemon app = daemons.start("http-example", socket.toString());
    app.awaitLog("for proxy links", START);
    return app;
  }

  /** A proxy with these options, SOCKET... last; waits until every socket in {@code linked} is. */
  private Daemon proxy(List<Path> linked, String... args) throws IOException {
    List<String> all = new ArrayList<>(List.of(Integer.toString(port)));
    all.addAll(List.of(args));
    Daemon proxy = daemons.start("proxy", all.toArray(new String[0]));
    proxy.awaitLog("listening on", START);
    for (Path s : linked) {
      proxy.awaitLog("linked to app at " + s.toAbsolutePath(), START);
    }
    return proxy;
  }

  @Test
  void tlsClientsLandOnTheAppOfTheirServerNameOrAlpnAndEachAppDoesItsOwnHandshake()
      throws Exception {
    makeCertificate();
    Path api = dir.resolve("api.sock");
    Path h2 = dir.resolve("h2.sock");
    Path web = dir.resolve("web.sock");
    tlsApp("api-app", api);
    tlsApp("h2-app", h2, "--alpn", "h2,http/1.1");
    tlsApp("web-app", web, "--alpn", "http/1.1");
    Daemon proxy = proxy(List.of(api, h2, web), "--route", "sni:api.example.test=" + api,
        "--route", "alpn:h2=" + h2, "--route", "default=" + web, "--log-level", "debug",
        "--peek-timeout", "20s"); // a hello a byte at a time takes long on a loaded machine
    int baseline = proxy.settledFds();

    assertTrue(sClient("api.example.test", null).startsWith("api-app sni=api.example.test"
        + " alpn=null\nping"), "openssl s_client -servername api.example.test");
    assertTrue(sClient("API.Example.Test", "h2").startsWith("api-app "),
        "names compare without case; the first rule wins over alpn:h2");
    assertTrue(sClient("www.example.test", "h2").startsWith("h2-app sni=www.example.test"
        + " alpn=h2\n"), "openssl s_client -alpn h2");
    assertTrue(sClient("www.example.test", "http/1.1").startsWith("web-app sni=www.example.test"
        + " alpn=http/1.1\n"), "no rule matches: the default route");
    if (onPath("curl")) {
      assertEquals("api-app sni=api.example.test alpn=null\n", curlTls("api.example.test"));
      assertEquals("web-app sni=www.example.test alpn=http/1.1\n", curlTls("www.example.test"));
    }
    // The JDK's TLS client, its ClientHello written one byte at a time with pauses.
    long start = System.nanoTime();
    String slow = javaTls("api.example.test", List.of("h2"), 600, 1);
    assertTrue(slow.startsWith("api-app sni=api.example.test alpn=null\nping"), slow);
    assertTrue(System.nanoTime() - start > TimeUnit.MILLISECONDS.toNanos(300),
        "the hello did arrive in pieces");
    assertTrue(javaTls("other.example.test", List.of("h2"), 0, 0).startsWith("h2-app "));
    String log = proxy.log();
    assertTrue(log.contains("route sni:api.example.test (matched, tls sni=api.example.test"),
        "DEBUG line per connection with the matched rule:\n" + log);
    assertEquals(baseline, proxy.awaitFds(baseline, Duration.ofSeconds(10)),
        "proxy descriptors back to baseline");
    String stopped = proxy.stopAndLog();
    assertTrue(stopped.contains("matched=" + (onPath("curl") ? 6 : 5)), stopped);
  }

  @Test
  void curlWithDifferentHostHeadersLandsOnDifferentHttpApps() throws Exception {
    Assumptions.assumeTrue(onPath("curl"), "curl is not installed");
    Path a = dir.resolve("a.sock");
    Path b = dir.resolve("b.sock");
    Daemon appA = httpApp(a);
    Daemon appB = httpApp(b);
    int metrics = EchoClient.freePort();
    Daemon proxy = proxy(List.of(a, b), "--route", "host:shop.example=" + a,
        "--route", "host:*.example=" + b, b.toString(), "--metrics", "127.0.0.1:" + metrics);
    int baseline = proxy.settledFds();
    assertEquals(Long.toString(appA.pid()), pid(curlHttp("shop.example:8080", "/")));
    assertEquals(Long.toString(appA.pid()), pid(curlHttp("SHOP.example.", "/")));
    assertEquals(Long.toString(appB.pid()), pid(curlHttp("www.example", "/")));
    assertEquals(Long.toString(appB.pid()), pid(curlHttp("other.test", "/")), "default");
    String scraped = run(List.of("curl", "-sS", "--max-time", "20",
        "http://127.0.0.1:" + metrics + "/metrics"), null);
    for (String line : List.of(
        "handoff_proxy_route_connections_total{route=\"host:shop.example\"} 2.0",
        "handoff_proxy_route_connections_total{route=\"host:*.example\"} 1.0",
        "handoff_proxy_route_connections_total{route=\"default\"} 1.0",
        "handoff_proxy_peek_outcomes_total{outcome=\"matched\"} 3.0",
        "handoff_proxy_route_links_up{route=\"default\"} 1.0")) {
      assertTrue(scraped.contains(line), line + " in:\n" + scraped);
    }
    assertEquals(baseline, proxy.awaitFds(baseline, Duration.ofSeconds(10)));
    String stopped = proxy.stopAndLog();
    assertTrue(stopped.contains("matched=3") && stopped.contains("no-match=1"), stopped);
  }

  /** A client that sends nothing gets the default route once the peek time is up. */
  @Test
  void aSilentClientTakesTheDefaultRouteAfterThePeekTimeout() throws Exception {
    Path echo = dir.resolve("echo.sock");
    Path nobody = dir.resolve("nobody.sock"); // no app: a connection routed there is never served
    echoApp(echo);
    // The wait on readiness after the accept, without the kernel's deferral (tested below).
    Daemon proxy = proxy(List.of(echo), "--route", "sni:x.example=" + nobody,
        "--peek-timeout", "500ms", "--no-peek-defer-accept", "--log-level", "DEBUG",
        echo.toString());
    int baseline = proxy.settledFds();
    try (Socket s = EchoClient.connect(port)) {
      // The server-speaks-first case: nothing from the client until the proxy has routed it.
      proxy.awaitLog("(timeout, ", START);
      EchoClient.assertEchoes(s, "after the timeout\n".getBytes(StandardCharsets.US_ASCII));
    }
    // Garbage that claims TLS takes the default route too (--peek-malformed=default).
    byte[] garbage = {22, 3, 1, 0, 0, 1, 2, 3, 4};
    try (Socket s = EchoClient.connect(port)) {
      EchoClient.assertEchoes(s, garbage);
    }
    // Text of another protocol: the default route, at once.
    long start = System.nanoTime();
    EchoClient.echoOnce(port, "HELLO there\n".getBytes(StandardCharsets.US_ASCII));
    assertTrue(System.nanoTime() - start < TimeUnit.MILLISECONDS.toNanos(450),
        "routed without waiting for the timeout");
    assertEquals(baseline, proxy.awaitFds(baseline, Duration.ofSeconds(10)));
    String stopped = proxy.stopAndLog();
    assertTrue(stopped.contains("timeout=1") && stopped.contains("malformed-default=1")
        && stopped.contains("unrecognised=1"), stopped);
  }

  /**
   * With the accept deferred (the default), the kernel hands the proxy a connection once its first
   * bytes are there: a client that sends its request 300 ms after connecting is routed by it,
   * with no timeout counted; one that sends nothing reaches the proxy after the kernel's 1 s,
   * which counts towards the 1 s peek timeout, so it takes the default route then, not a second
   * later.
   */
  @Test
  void withTheAcceptDeferredASilentClientTakesTheDefaultRouteAfterThePeekTimeout()
      throws Exception {
    Path echo = dir.resolve("echo.sock");
    Path nobody = dir.resolve("nobody.sock"); // no app: a connection routed there is never served
    echoApp(echo);
    Daemon proxy = proxy(List.of(echo), "--route", "sni:x.example=" + nobody, echo.toString());
    proxy.awaitLog("TCP_DEFER_ACCEPT 1 s", START);
    int baseline = proxy.settledFds();
    try (Socket s = EchoClient.connect(port)) {
      Thread.sleep(300); // the scenario: a client that sends its request late
      EchoClient.assertEchoes(s, "HELLO late\n".getBytes(StandardCharsets.US_ASCII));
    }
    try (Socket s = EchoClient.connect(port)) {
      // Silent for 1.5 s: routed by the timeout at about 1 s (the kernel's wait counted), not by
      // these bytes, which would be read and routed as 'unrecognised' if the proxy were still
      // waiting for its own full second after the accept.
      Thread.sleep(1500);
      EchoClient.assertEchoes(s, "after the timeout\n".getBytes(StandardCharsets.US_ASCII));
    }
    assertEquals(baseline, proxy.awaitFds(baseline, Duration.ofSeconds(10)));
    String stopped = proxy.stopAndLog();
    assertTrue(stopped.contains("timeout=1") && stopped.contains("unrecognised=1"), stopped);
  }

  /**
   * A protocol in which the server speaks first (SMTP-like: the client waits for the greeting): on
   * a listener that routes by server name, the client sends nothing, so after the peek timeout its
   * connection takes the default route, where a server built on the library greets it first; the
   * conversation then goes on both ways. A TLS client on the same listener still reaches its route.
   */
  @Test
  void aServerThatSpeaksFirstIsReachedOnTheDefaultRoute() throws Exception {
    Path greeting = dir.resolve("greeting.sock");
    Path echo = dir.resolve("echo.sock");
    echoApp(echo);
    byte[] hello = "220 greeting.example ready\r\n".getBytes(StandardCharsets.US_ASCII);
    HandoffServer greeter = new HandoffServerBootstrap()
        .ioThreads(1)
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
              @Override
              public void channelActive(ChannelHandlerContext ctx) {
                ctx.writeAndFlush(Unpooled.wrappedBuffer(hello));
              }

              @Override
              public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ctx.writeAndFlush(msg);
              }
            });
          }
        })
        .bind(greeting);
    try {
      Daemon proxy = proxy(List.of(echo, greeting), "--route", "sni:x.example=" + echo,
          "--peek-timeout", "500ms", greeting.toString());
      int baseline = proxy.settledFds();
      for (int i = 0; i < 3; i++) {
        try (Socket s = EchoClient.connect(port)) {
          s.setSoTimeout(10_000);
          long start = System.nanoTime();
          assertArrayEquals(hello, EchoClient.readExactly(s.getInputStream(), hello.length),
              "the greeting comes first, without a byte from the client");
          assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(400),
              "the proxy waited for first bytes until its peek timeout");
          EchoClient.assertEchoes(s, "EHLO client.example\r\n".getBytes(StandardCharsets.US_ASCII));
        }
      }
      assertEquals(baseline, proxy.awaitFds(baseline, Duration.ofSeconds(10)));
      assertTrue(proxy.stopAndLog().contains("timeout=3"), proxy.log());
    } finally {
      greeter.close();
    }
  }

  @Test
  void malformedFirstBytesAreClosedWithPeekMalformedClose() throws Exception {
    Path echo = dir.resolve("echo.sock");
    echoApp(echo);
    Daemon proxy = proxy(List.of(echo), "--route", "host:a.example=" + echo,
        "--peek-malformed", "close", echo.toString());
    int baseline = proxy.settledFds();
    for (byte[] bad : List.of(new byte[] {22, 3, 1, (byte) 0xff, (byte) 0xff, 1},
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".getBytes(StandardCharsets.US_ASCII))) {
      try (Socket s = EchoClient.connect(port)) {
        s.getOutputStream().write(bad);
        int r;
        try {
          r = s.getInputStream().read();
        } catch (IOException e) {
          r = -1; // reset: closed with unread data
        }
        assertEquals(-1, r, "closed by the proxy");
      }
    }
    EchoClient.echoOnce(port, "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n"
        .getBytes(StandardCharsets.US_ASCII));
    assertEquals(baseline, proxy.awaitFds(baseline, Duration.ofSeconds(10)));
    String stopped = proxy.stopAndLog();
    assertTrue(stopped.contains("malformed-closed=2") && stopped.contains("matched=1"), stopped);
  }

  /** A request head followed by 1 MiB in one write routes by its Host and arrives whole. */
  @Test
  void aOneMebibyteFirstWriteRoutesAndArrivesWhole() throws Exception {
    Path echo = dir.resolve("echo.sock");
    Path nobody = dir.resolve("nobody.sock");
    echoApp(echo);
    Daemon proxy = proxy(List.of(echo), "--route", "host:big.example=" + echo, nobody.toString());
    int baseline = proxy.settledFds();
    byte[] head = "POST /upload HTTP/1.1\r\nHost: big.example\r\nContent-Length: 1048576\r\n\r\n"
        .getBytes(StandardCharsets.US_ASCII);
    byte[] all = new byte[head.length + (1 << 20)];
    System.arraycopy(head, 0, all, 0, head.length);
    for (int i = head.length; i < all.length; i++) {
      all[i] = (byte) (i * 31);
    }
    try (Socket s = EchoClient.connect(port)) {
      Thread writer = new Thread(() -> {
        try {
          s.getOutputStream().write(all);
        } catch (IOException e) {
          // the read below fails then
        }
      });
      writer.start();
      assertArrayEquals(all, EchoClient.readExactly(s.getInputStream(), all.length));
      writer.join(10_000);
      assertFalse(writer.isAlive(), "the writer wrote the whole upload");
    }
    assertEquals(baseline, proxy.awaitFds(baseline, Duration.ofSeconds(10)));
  }

  /**
   * 1,000 clients each send part of a ClientHello and wait; a client with a whole request is
   * still served promptly, as the peek stage waits on readiness for all of them on one thread.
   */
  @Test
  void aThousandClientsPeekedAtOnceDoNotStallOthers() throws Exception {
    Path echo = dir.resolve("echo.sock");
    echoApp(echo);
    Daemon proxy = proxy(List.of(echo), "--route", "host:fast.example=" + echo,
        "--peek-timeout", "4s", "--queue-wait", "60s", echo.toString());
    int baseline = proxy.settledFds();
    byte[] partial = java.util.Arrays.copyOf(clientHello(), 60);
    byte[] fast = "GET / HTTP/1.1\r\nHost: fast.example\r\n\r\n"
        .getBytes(StandardCharsets.US_ASCII);
    EchoClient.echoOnce(port, fast); // a first one loads the classes of the path being timed
    List<Socket> waiting = new ArrayList<>();
    try {
      for (int i = 0; i < 1000; i++) {
        Socket s = EchoClient.connect(port);
        waiting.add(s);
        s.getOutputStream().write(partial);
      }
      // Measured once the proxy holds them all: what is timed is the proxy, not its backlog.
      proxy.awaitFdsAtLeast(baseline + 1000, "holds the 1,000 it peeks at",
          Duration.ofSeconds(20));
      long worst = 0;
      for (int i = 0; i < 5; i++) {
        long start = System.nanoTime();
        EchoClient.echoOnce(port, fast);
        worst = Math.max(worst, System.nanoTime() - start);
      }
      assertTrue(worst < TimeUnit.MILLISECONDS.toNanos(1000),
          "a whole request is served within 1 s while 1,000 wait: " + worst / 1000 + " us");
      assertTrue(proxy.openFds() >= baseline + 1000, "the 1,000 are still being peeked at");
    } finally {
      for (Socket s : waiting) {
        s.close();
      }
    }
    // Their peek time runs out: they go to the default app, which sees them closed.
    assertEquals(baseline, proxy.awaitFds(baseline, Duration.ofSeconds(20)));
    String stopped = proxy.stopAndLog();
    assertTrue(stopped.contains("timeout=1000") && stopped.contains("matched=6"), stopped);
  }

  /** A shutdown gives a connection being peeked at its route rather than dropping it. */
  @Test
  void aConnectionBeingPeekedAtDuringShutdownIsStillHandedOff() throws Exception {
    Path echo = dir.resolve("echo.sock");
    Path nobody = dir.resolve("nobody.sock");
    echoApp(echo);
    Daemon proxy = proxy(List.of(echo), "--route", "host:a.example=" + nobody,
        "--peek-timeout", "30s", echo.toString());
    int baseline = proxy.settledFds();
    try (Socket s = EchoClient.connect(port)) {
      byte[] first = "GET / HTTP/1.1\r\nHost: b.exa".getBytes(StandardCharsets.US_ASCII);
      s.getOutputStream().write(first);
      // Accepted, and peeked at: a request head not complete yet, which the proxy holds.
      proxy.awaitFdsAtLeast(baseline + 1, "holds the connection it peeks at", START);
      String stopped = proxy.stopAndLog();
      assertTrue(stopped.contains("timeout=1"), stopped);
      byte[] rest = "mple\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
      s.getOutputStream().write(rest);
      byte[] all = new byte[first.length + rest.length];
      System.arraycopy(first, 0, all, 0, first.length);
      System.arraycopy(rest, 0, all, first.length, rest.length);
      assertArrayEquals(all, EchoClient.readExactly(s.getInputStream(), all.length),
          "the default app got the connection and every byte");
    }
  }

  /**
   * A {@code --take-over} while the old proxy is peeking at a connection: the old proxy finishes
   * it (its route, then its handoff) before it exits 0; the new proxy routes new connections.
   */
  @Test
  void aTakeOverLetsTheOldProxyFinishWhatItIsPeekingAt() throws Exception {
    Path echo = dir.resolve("echo.sock");
    Path nobody = dir.resolve("nobody.sock");
    Path control = dir.resolve("proxy.ctl");
    echoApp(echo);
    String[] routes = {"--route", "host:a.example=" + nobody, "--peek-timeout", "3s",
        "--control", control.toString()};
    List<String> first = new ArrayList<>(List.of(routes));
    first.add(echo.toString());
    Daemon old = proxy(List.of(echo), first.toArray(new String[0]));
    old.awaitLog("ready for a proxy started with --take-over", START);
    int baseline = old.settledFds();
    try (Socket s = EchoClient.connect(port)) {
      byte[] head = "GET / HTTP/1.1\r\nHost: b.exa".getBytes(StandardCharsets.US_ASCII);
      s.getOutputStream().write(head);
      old.awaitFdsAtLeast(baseline + 1, "holds the connection it peeks at", START);
      List<String> next = new ArrayList<>(List.of(Integer.toString(port), "--take-over"));
      next.addAll(List.of(routes));
      next.add(echo.toString());
      Daemon newer = daemons.start("proxy", next.toArray(new String[0]));
      newer.awaitLog("listening on", START);
      assertEquals(0, old.awaitExit(Duration.ofSeconds(30)), old.log());
      assertTrue(old.log().contains("timeout=1"), old.log());
      byte[] rest = "mple\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
      s.getOutputStream().write(rest);
      byte[] all = new byte[head.length + rest.length];
      System.arraycopy(head, 0, all, 0, head.length);
      System.arraycopy(rest, 0, all, head.length, rest.length);
      assertArrayEquals(all, EchoClient.readExactly(s.getInputStream(), all.length));
      newer.awaitLog("linked to app at " + echo.toAbsolutePath(), START);
      EchoClient.echoOnce(port, "GET / HTTP/1.1\r\nHost: c.example\r\n\r\n"
          .getBytes(StandardCharsets.US_ASCII));
      String stopped = newer.stopAndLog();
      assertTrue(stopped.contains("no-match=1"), stopped);
    }
  }

  /**
   * Behind a load balancer: the proxy consumes the PROXY header, and the route is picked from the
   * bytes after it, which the app reads whole (and without the header).
   */
  @Test
  void routesLookPastAProxyProtocolHeader() throws Exception {
    Path echo = dir.resolve("echo.sock");
    Path nobody = dir.resolve("nobody.sock");
    echoApp(echo);
    Daemon proxy = proxy(List.of(echo), "--bind", "127.0.0.1", "--proxy-protocol-from",
        "127.0.0.1/32", "--route", "host:a.example=" + echo, nobody.toString());
    int baseline = proxy.settledFds();
    byte[] request = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n"
        .getBytes(StandardCharsets.US_ASCII);
    for (boolean together : new boolean[] {true, false}) {
      try (Socket s = EchoClient.connect(port)) {
        byte[] header = ("PROXY TCP4 198.51.100.7 127.0.0.1 4242 " + port + "\r\n")
            .getBytes(StandardCharsets.US_ASCII);
        if (together) {
          byte[] both = new byte[header.length + request.length];
          System.arraycopy(header, 0, both, 0, header.length);
          System.arraycopy(request, 0, both, header.length, request.length);
          s.getOutputStream().write(both);
        } else {
          s.getOutputStream().write(header);
          Thread.sleep(200); // the scenario: the header and the request in two segments
          s.getOutputStream().write(request);
        }
        assertArrayEquals(request, EchoClient.readExactly(s.getInputStream(), request.length),
            "routed by the Host after the header; the header itself consumed");
      }
    }
    assertEquals(baseline, proxy.awaitFds(baseline, Duration.ofSeconds(10)));
    String stopped = proxy.stopAndLog();
    assertTrue(stopped.contains("matched=2"), stopped);
  }

  @Test
  void aBadRouteIsAUsageError() throws Exception {
    for (List<String> args : List.of(List.of("--route", "sni:=/tmp/x.sock"),
        List.of("--route", "port:80=/tmp/x.sock"), List.of("--route", "sni:a.example"))) {
      List<String> all = new ArrayList<>(List.of("8080"));
      all.addAll(args);
      Daemon proxy = daemons.start("proxy", all.toArray(new String[0]));
      assertEquals(2, proxy.awaitExit(Duration.ofSeconds(20)), proxy.log());
      assertTrue(proxy.log().contains("--route"), proxy.log());
    }
  }

  // ---- clients ----

  private String sClient(String serverName, String alpn) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("openssl", "s_client", "-connect",
        "127.0.0.1:" + port, "-servername", serverName, "-quiet", "-verify_quiet"));
    if (alpn != null) {
      cmd.addAll(List.of("-alpn", alpn));
    }
    return run(cmd, "ping\n");
  }

  private String curlTls(String host) throws Exception {
    return run(List.of("curl", "-sS", "--http1.1", "--max-time", "20", "-k", "--resolve",
        host + ":" + port + ":127.0.0.1", "https://" + host + ":" + port + "/"), null);
  }

  private String curlHttp(String host, String path) throws Exception {
    return run(List.of("curl", "-sS", "--http1.1", "--max-time", "20", "-H", "Host: " + host,
        "http://127.0.0.1:" + port + path), null);
  }

  private static String pid(String page) {
    for (String line : page.split("\n")) {
      if (line.startsWith("pid: ")) {
        return line.substring(5).trim();
      }
    }
    throw new AssertionError("no pid in:\n" + page);
  }

  /** Runs a command with {@code input} on stdin (then EOF); its stdout, after exit 0. */
  private static String run(List<String> cmd, String input) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    try (OutputStream in = p.getOutputStream()) {
      if (input != null) {
        in.write(input.getBytes(StandardCharsets.US_ASCII));
      }
    }
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(cmd + " did not finish");
    }
    assertEquals(0, p.exitValue(), cmd + ": " + new String(out, StandardCharsets.UTF_8));
    return new String(out, StandardCharsets.UTF_8);
  }

  private static boolean onPath(String program) {
    return PlainPrograms.onPath(program);
  }

  private static SSLContext trustAll() throws Exception {
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, new TrustManager[] {new X509TrustManager() {
      @Override
      public void checkClientTrusted(X509Certificate[] chain, String type) {}

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String type) {}

      @Override
      public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
      }
    }}, null);
    return context;
  }

  /**
   * A TLS exchange with the JDK's client: "ping\n" out, everything until the app closes back.
   * The first {@code slowBytes} bytes go out one write each, {@code pauseMs} apart.
   */
  private String javaTls(String serverName, List<String> alpn, int slowBytes, long pauseMs)
      throws Exception {
    Socket raw = new SlowSocket(slowBytes, pauseMs);
    raw.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
    raw.setTcpNoDelay(true);
    try (SSLSocket tls = (SSLSocket) trustAll().getSocketFactory().createSocket(raw, serverName,
        port, true)) {
      tls.setSoTimeout(20_000);
      SSLParameters params = tls.getSSLParameters();
      params.setServerNames(List.of(new SNIHostName(serverName)));
      params.setApplicationProtocols(alpn.toArray(String[]::new));
      tls.setSSLParameters(params);
      tls.startHandshake();
      tls.getOutputStream().write("ping\n".getBytes(StandardCharsets.US_ASCII));
      tls.getOutputStream().flush();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      InputStream in = tls.getInputStream();
      byte[] buf = new byte[1024];
      try {
        for (int n; (n = in.read(buf)) > 0; ) {
          got.write(buf, 0, n);
        }
      } catch (javax.net.ssl.SSLException e) {
        // closed without close_notify after the answer: what came before is the answer
      }
      return got.toString(StandardCharsets.ISO_8859_1);
    }
  }

  /** A ClientHello of the JDK's TLS client, for clients that only start a handshake. */
  private static byte[] clientHello() throws Exception {
    javax.net.ssl.SSLEngine engine = trustAll().createSSLEngine("slow.example", 443);
    engine.setUseClientMode(true);
    java.nio.ByteBuffer out = java.nio.ByteBuffer.allocate(engine.getSession()
        .getPacketBufferSize());
    engine.wrap(java.nio.ByteBuffer.allocate(0), out);
    return java.util.Arrays.copyOf(out.array(), out.position());
  }

  /** A socket whose first bytes go out one write each, with pauses: a ClientHello in pieces. */
  private static final class SlowSocket extends Socket {
    private final int slowBytes;
    private final long pauseMs;
    private int written;

    SlowSocket(int slowBytes, long pauseMs) {
      this.slowBytes = slowBytes;
      this.pauseMs = pauseMs;
    }

    @Override
    public OutputStream getOutputStream() throws IOException {
      OutputStream out = super.getOutputStream();
      return new FilterOutputStream(out) {
        @Override
        public void write(byte[] b, int off, int len) throws IOException {
          for (int i = 0; i < len; i++) {
            if (written < slowBytes) {
              out.write(b[off + i]);
              out.flush();
              written++;
              try {
                Thread.sleep(pauseMs);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
              }
            } else {
              out.write(b, off + i, len - i);
              return;
            }
          }
        }
      };
    }
  }
}
