package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * HAProxy itself (Debian's package) in front of the real {@code proxy}, with {@code send-proxy}
 * and {@code send-proxy-v2}: clients through it are echoed byte for byte by the real app, which
 * reports their own address and port, not HAProxy's. HAProxy connects from 127.0.0.2, the one
 * address given to {@code --proxy-protocol-from}; test clients from 127.0.0.1 are untrusted.
 */
class ProxyProtocolIT extends DaemonTest {
  private static final Duration START = Duration.ofSeconds(20);
  private Process haproxy;
  private Path haproxyLog;

  @AfterEach
  void stopHaproxy() throws InterruptedException {
    if (haproxy != null) {
      haproxy.destroy();
      if (!haproxy.waitFor(10, TimeUnit.SECONDS)) {
        haproxy.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  private Daemon app;
  private Daemon proxy;
  private int appBaseline;
  private int proxyBaseline;

  /** An app and a proxy that trusts 127.0.0.2 and 2001:db8::/32 as load balancers, 1 s timeout. */
  private void startPair() throws Exception {
    app = daemons.app(socket, "--log-level", "DEBUG");
    proxy = daemons.proxy(port, socket, "--bind", "127.0.0.1", "--log-level", "DEBUG",
        "--proxy-protocol-from", "127.0.0.2/32", "--proxy-protocol-from", "2001:db8::/32",
        "--proxy-protocol-timeout", "1s");
  }

  private void settle() {
    appBaseline = app.settledFds();
    proxyBaseline = proxy.settledFds();
  }

  /** Both processes' descriptors back to where they were, and the proxy's counters at its stop. */
  private void assertCleanStop(String counters) throws InterruptedException {
    assertEquals(appBaseline, app.awaitFds(appBaseline, Duration.ofSeconds(15)),
        "app descriptors back to baseline");
    assertEquals(proxyBaseline, proxy.awaitFds(proxyBaseline, Duration.ofSeconds(15)),
        "proxy descriptors back to baseline");
    String log = proxy.stopAndLog();
    assertTrue(log.contains(counters), "the proxy counted " + counters + ":\n" + log);
  }

  @Test
  void haproxyV1AndV2CarryTheClientsAddressToTheApp() throws Exception {
    String haproxyPath = find("haproxy");
    Assumptions.assumeTrue(haproxyPath != null, "haproxy is not installed (apt-get install"
        + " haproxy; .ci/run and scripts/test.sh install it)");
    startPair();
    int v1Port = EchoClient.freePort();
    int v2Port = EchoClient.freePort();
    int v6Port = EchoClient.freePort();
    startHaproxy(haproxyPath, v1Port, v2Port, v6Port);
    settle();
    Random random = new Random(11);

    // send-proxy (v1, TCP4): echoed byte for byte; the app sees the client, not HAProxy.
    for (int i = 0; i < 3; i++) {
      try (Socket client = connect(new InetSocketAddress("127.0.0.1", v1Port))) {
        EchoClient.assertEchoes(client, EchoClient.randomBytes(random, 1 + random.nextInt(70_000)));
        app.awaitLog("client /127.0.0.1:" + client.getLocalPort() + " via load balancer"
            + " /127.0.0.2:", START);
      }
    }
    // send-proxy-v2 with the unique-id TLV: the same, and the balancer's id reaches the app.
    for (int i = 0; i < 3; i++) {
      try (Socket client = connect(new InetSocketAddress("127.0.0.1", v2Port))) {
        byte[] data = EchoClient.randomBytes(random, 1 + random.nextInt(70_000));
        data[0] = 'P'; // a client's own bytes that look like a header are just bytes
        EchoClient.assertEchoes(client, data);
        EchoClient.assertEchoes(client, "PROXY TCP4 1.1.1.1 1.1.1.1 1 1\r\n"
            .getBytes(StandardCharsets.US_ASCII));
        app.awaitLog("client /127.0.0.1:" + client.getLocalPort() + " via load balancer"
            + " /127.0.0.2:", START);
        app.awaitLog("unique-id id-127.0.0.1-" + client.getLocalPort(), START);
      }
    }
    // send-proxy (v1, TCP6): a client on ::1.
    try (Socket client = connect(new InetSocketAddress("::1", v6Port))) {
      EchoClient.assertEchoes(client, "over IPv6".getBytes(StandardCharsets.US_ASCII));
      app.awaitLog("client /[0:0:0:0:0:0:0:1]:" + client.getLocalPort() + " via load balancer"
          + " /127.0.0.2:", START);
    }
    // Each handoff is logged once adopted: its answer (and that line) may come a moment after its
    // client already had the echo.
    app.awaitCount(": adopted ", 7, START);
    assertEquals(7, count(app.log(), ": adopted "), "seven connections handed off:\n" + app.log());
    assertTrue(haproxy.isAlive(), "haproxy ran throughout; its log:\n" + haproxyLog());
    assertCleanStop("proxy-headers=7 proxy-refused=0 proxy-invalid=0");
  }

  /** The headers HAProxy sends, straight from 127.0.0.1, which is not trusted: refused, closed. */
  @Test
  void aClientOutsideTheTrustedRangesCannotForgeItsAddress() throws Exception {
    startPair();
    settle();
    String forged = "PROXY TCP4 198.51.100.7 127.0.0.1 4242 " + port + "\r\nhello";
    try (Socket direct = connect(new InetSocketAddress("127.0.0.1", port))) {
      direct.getOutputStream().write(forged.getBytes(StandardCharsets.US_ASCII));
      assertClosed(direct);
    }
    try (Socket direct = connect(new InetSocketAddress("127.0.0.1", port))) {
      direct.getOutputStream().write(new byte[] {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51,
          0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0, 12, (byte) 198, 51, 100, 7, 127, 0, 0, 1,
          0x10, (byte) 0x92, 0x10, (byte) 0x93});
      assertClosed(direct);
    }
    proxy.awaitLog("is not in --proxy-protocol-from; refused", START);
    // A client without a header, from an untrusted address, is served as ever.
    try (Socket plain = connect(new InetSocketAddress("127.0.0.1", port))) {
      EchoClient.assertEchoes(plain, "plain client".getBytes(StandardCharsets.US_ASCII));
    }
    app.awaitCount(": adopted ", 1, START);
    assertEquals(1, count(app.log(), ": adopted "), "only the plain client was handed off:\n"
        + app.log());
    assertTrue(!app.log().contains("198.51.100.7"), "a forged client never reaches the app");
    assertCleanStop("proxy-headers=0 proxy-refused=2 proxy-invalid=0");
  }

  /** From a trusted balancer, garbage or nothing instead of a header: closed, never handed off. */
  @Test
  void aBalancerConnectionWithoutAValidHeaderIsClosed() throws Exception {
    startPair();
    settle();
    try (Socket garbage = new Socket()) {
      garbage.bind(new InetSocketAddress("127.0.0.2", 0));
      garbage.connect(new InetSocketAddress("127.0.0.1", port), 5000);
      garbage.setSoTimeout(15_000);
      garbage.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      assertClosed(garbage);
    }
    // Nothing at all: closed once --proxy-protocol-timeout is up.
    try (Socket silent = new Socket()) {
      silent.bind(new InetSocketAddress("127.0.0.2", 0));
      silent.connect(new InetSocketAddress("127.0.0.1", port), 5000);
      silent.setSoTimeout(15_000);
      long t0 = System.nanoTime();
      assertClosed(silent);
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      assertTrue(ms >= 900, "held for the timeout (1 s): " + ms + " ms");
    }
    proxy.awaitLog("without a valid PROXY header", START);
    assertEquals(0, count(app.log(), ": adopted "), "nothing was handed off:\n" + app.log());
    assertCleanStop("proxy-headers=0 proxy-refused=0 proxy-invalid=2");
  }

  /**
   * An app take-over moves a connection from a balancer with its original client: the successor's
   * channel reports the same client, and the balancer's unique id, as the first app's did.
   */
  @Test
  void theOriginalClientMovesWithItsConnectionInAnAppTakeOver() throws Exception {
    String haproxyPath = find("haproxy");
    Assumptions.assumeTrue(haproxyPath != null, "haproxy is not installed");
    Daemon app = daemons.app(socket, "--log-level", "DEBUG");
    daemons.proxy(port, socket, "--bind", "127.0.0.1", "--proxy-protocol-from", "127.0.0.2");
    int v1Port = EchoClient.freePort();
    int v2Port = EchoClient.freePort();
    int v6Port = EchoClient.freePort();
    startHaproxy(haproxyPath, v1Port, v2Port, v6Port);
    try (Socket client = connect(new InetSocketAddress("127.0.0.1", v2Port))) {
      EchoClient.assertEchoes(client, "before".getBytes(StandardCharsets.US_ASCII));
      String seen = "client /127.0.0.1:" + client.getLocalPort() + " via load balancer /127.0.0.2:";
      app.awaitLog(seen, START);
      Daemon next = daemons.start("app", "--take-over", "--log-level", "DEBUG",
          socket.toString());
      assertEquals(0, app.awaitExit(Duration.ofSeconds(60)), "the old app exits 0\n" + app.log());
      assertTrue(app.log().contains("handed 1 connections over"), app.log());
      EchoClient.assertEchoes(client, "after".getBytes(StandardCharsets.US_ASCII));
      next.awaitLog(seen, START);
      next.awaitLog("unique-id id-127.0.0.1-" + client.getLocalPort(), START);
    }
  }

  private void startHaproxy(String path, int v1Port, int v2Port, int v6Port) throws Exception {
    Path config = dir.resolve("haproxy.cfg");
    String backend = "127.0.0.1:" + port;
    Files.writeString(config, String.join("\n",
        "global",
        "  maxconn 100",
        "defaults",
        "  mode tcp",
        "  timeout connect 5s",
        "  timeout client 30s",
        "  timeout server 30s",
        "frontend v1",
        "  bind 127.0.0.1:" + v1Port,
        "  default_backend v1",
        "backend v1",
        "  server proxy " + backend + " send-proxy source 127.0.0.2",
        "frontend v2",
        "  bind 127.0.0.1:" + v2Port,
        "  unique-id-format id-%ci-%cp",
        "  default_backend v2",
        "backend v2",
        "  server proxy " + backend + " send-proxy-v2 proxy-v2-options unique-id source 127.0.0.2",
        "frontend v6",
        "  bind [::1]:" + v6Port,
        "  default_backend v1",
        ""));
    haproxyLog = daemons.logs.resolve("haproxy.log");
    Files.createDirectories(daemons.logs);
    haproxy = new ProcessBuilder(path, "-db", "-f", config.toString())
        .redirectErrorStream(true).redirectOutput(haproxyLog.toFile()).start();
    for (int port : new int[] {v1Port, v2Port}) {
      awaitListening(new InetSocketAddress("127.0.0.1", port));
    }
    awaitListening(new InetSocketAddress("::1", v6Port));
  }

  /**
   * Waits until the port is in the kernel's LISTEN state (/proc/net/tcp, tcp6), without a probe
   * connection, which HAProxy would pass on to the proxy.
   */
  private void awaitListening(InetSocketAddress address) throws Exception {
    String hexPort = String.format(":%04X ", address.getPort());
    Path table = Path.of(address.getAddress() instanceof java.net.Inet6Address
        ? "/proc/net/tcp6" : "/proc/net/tcp");
    for (int i = 0; i < 400; i++) {
      if (!haproxy.isAlive()) {
        throw new AssertionError("haproxy exited " + haproxy.exitValue() + ":\n" + haproxyLog());
      }
      for (String line : Files.readAllLines(table)) {
        String[] f = line.trim().split("\\s+");
        if (f.length > 3 && (f[1] + " ").endsWith(hexPort) && f[3].equals("0A")) {
          return;
        }
      }
      Daemon.sleep(50);
    }
    throw new AssertionError("haproxy does not listen on " + address + ":\n" + haproxyLog());
  }

  private String haproxyLog() {
    try {
      return Files.readString(haproxyLog);
    } catch (IOException e) {
      return "(" + e.getMessage() + ")";
    }
  }

  private static Socket connect(InetSocketAddress address) throws IOException {
    Socket socket = new Socket();
    socket.connect(address, 5_000);
    socket.setSoTimeout(15_000);
    return socket;
  }

  /** The other end closes: end of stream (or a reset), nothing echoed, within 15 s. */
  private static void assertClosed(Socket socket) throws IOException {
    InputStream in = socket.getInputStream();
    try {
      assertEquals(-1, in.read(), "closed without a byte back");
    } catch (SocketTimeoutException e) {
      throw new AssertionError("still open after 15 s", e);
    } catch (IOException reset) {
      // closed with bytes unread: a reset
    }
  }

  private static int count(String text, String what) {
    int n = 0;
    for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
      n++;
    }
    return n;
  }

  private static String find(String command) {
    String path = System.getenv().getOrDefault("PATH", "") + File.pathSeparator + "/usr/sbin";
    for (String d : path.split(File.pathSeparator)) {
      File f = new File(d, command);
      if (f.canExecute()) {
        return f.getPath();
      }
    }
    return null;
  }
}
