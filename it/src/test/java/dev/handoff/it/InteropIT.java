package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.internal.JdkNioInternals;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;

/**
 * Plain descriptor senders and receivers against the real launchers. A runc-style sender (the
 * file's name as payload) and a C sender (one byte) hand connections to the app; with
 * {@code -Dhandoff.seeds=DIR}, the design document's Go proxy hands a connection to the app, and
 * {@code proxy --protocol plain} hands connections to the document's Go app. Each client is echoed
 * byte for byte, and still served once the sender is gone. How the programs are built: {@link
 * PlainPrograms}. Tests that need Go are skipped, saying so, when {@code go} is not installed, and
 * those that need the design document when it is not given.
 */
@Timeout(300)
class InteropIT extends DaemonTest {
  private static final String PLAIN_LINK = "is a plain link";
  private final List<PlainPrograms.Program> programs = new ArrayList<>();
  private final Random random = new Random(12);

  @AfterEach
  void killPrograms() throws InterruptedException {
    for (PlainPrograms.Program p : programs) {
      p.close();
    }
  }

  private PlainPrograms.Program start(String name, String... command) throws IOException {
    PlainPrograms.Program p = new PlainPrograms.Program(daemons.logs, name, List.of(command));
    programs.add(p);
    return p;
  }

  private static int count(String text, String what) {
    int n = 0;
    for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
      n++;
    }
    return n;
  }

  /**
   * Go's single zero byte is a whole plain handoff: the app does not wait for the rest of a
   * header, and the client is still served after the Go proxy exits.
   */
  @Test
  void theDesignDocumentsGoProxyHandsAConnectionToTheApp() throws Exception {
    PlainPrograms.assumeGo();
    Path goProxy = PlainPrograms.goBuild("design-proxy", PlainPrograms.designGoPrograms()[0]);
    Daemon app = daemons.app(socket);
    PlainPrograms.Program proxy = startDesignProxy(goProxy);
    try (Socket client = EchoClient.connect(port)) {
      byte[] first = EchoClient.randomBytes(random, 64 * 1024);
      EchoClient.assertEchoes(client, first);
      proxy.awaitLog("Sent socket control message", Duration.ofSeconds(10));
      proxy.kill(); // it would exit by itself after 2 s, closing its copies
      EchoClient.assertEchoes(client, EchoClient.randomBytes(random, 4096));
    }
    String log = app.stopAndLog();
    assertEquals(1, count(log, PLAIN_LINK), "the link's mode is logged once:\n" + log);
    assertTrue(log.contains("adopted=1 "), log);
    assertTrue(!log.contains("refused a handoff"), log);
  }

  /**
   * The document's Go proxy listens on the address it is given: a free port, chosen again if
   * another process took it in the meantime.
   */
  private PlainPrograms.Program startDesignProxy(Path goProxy) throws Exception {
    for (int attempt = 1; ; attempt++) {
      PlainPrograms.Program proxy = start("design-proxy", goProxy.toString(),
          "127.0.0.1:" + port, socket.toString());
      try {
        proxy.awaitLog("Listen on tcp addr", Duration.ofSeconds(20));
        return proxy;
      } catch (AssertionError e) {
        if (attempt == 3 || !proxy.log().contains("address already in use")) {
          throw e;
        }
        port = EchoClient.freePort();
      }
    }
  }

  /**
   * {@code proxy --protocol plain} waits for no acknowledgement, which the Go app never sends. The
   * Go app takes one link and one connection, and echoes lines (it writes each line with Fprintf
   * as a format, so the lines carry no '%').
   */
  @Test
  void thePlainProxyHandsAConnectionToTheDesignDocumentsGoApp() throws Exception {
    PlainPrograms.assumeGo();
    Path goApp = PlainPrograms.goBuild("design-app", PlainPrograms.designGoPrograms()[1]);
    PlainPrograms.Program app = start("design-app", goApp.toString(), socket.toString());
    app.awaitLog("Listen on unix addr", Duration.ofSeconds(20));
    Daemon proxy = daemons.proxy(port, socket, "--protocol", "plain", "--bind", "127.0.0.1");
    proxy.awaitLog("linked to plain receiver", Duration.ofSeconds(20));
    try (Socket client = EchoClient.connect(port)) {
      assertLineEchoed(client, "hello from the plain proxy\n");
      assertLineEchoed(client, "a second line, byte for byte: \t\u00e9\n");
      app.awaitLog("Got fds", Duration.ofSeconds(5));
      proxy.kill();
      assertLineEchoed(client, "still served with the proxy gone\n");
    }
    assertTrue(proxy.log().contains("(--protocol plain)"), proxy.log());
  }

  private static void assertLineEchoed(Socket client, String line) throws IOException {
    byte[] bytes = line.getBytes(StandardCharsets.UTF_8);
    client.getOutputStream().write(bytes);
    assertArrayEquals(bytes, EchoClient.readExactly(client.getInputStream(), bytes.length),
        "echo of " + line.strip());
  }

  @Test
  void aRuncStyleSenderHandsConnectionsToTheApp() throws Exception {
    PlainPrograms.assumeGo();
    Path sender = PlainPrograms.goBuild("runcsend", java.nio.file.Files.readString(
        Daemon.ROOT.resolve("it/src/test/go/runcsend/main.go")));
    Daemon app = daemons.app(socket);
    PlainPrograms.Program runc = start("runcsend", sender.toString(), socket.toString(), "3");
    assertClientsServedAfterTheSenderExits(runc, 3);
    String log = app.stopAndLog();
    assertEquals(1, count(log, PLAIN_LINK), "the link's mode is logged once:\n" + log);
    assertTrue(log.contains("adopted=3 "), log);
  }

  @Test
  void aCSenderHandsConnectionsToTheApp() throws Exception {
    PlainPrograms.assumeGcc();
    Path sender = PlainPrograms.gccBuild("sendfd", Daemon.ROOT.resolve("it/src/test/c/sendfd.c"));
    Daemon app = daemons.app(socket);
    PlainPrograms.Program c = start("sendfd", sender.toString(), socket.toString(), "3");
    assertClientsServedAfterTheSenderExits(c, 3);
    String log = app.stopAndLog();
    assertEquals(1, count(log, PLAIN_LINK), "the link's mode is logged once:\n" + log);
    assertTrue(log.contains("adopted=3 "), log);
  }

  /** Connects {@code n} clients through the sender, echoes, lets it exit, echoes again. */
  private void assertClientsServedAfterTheSenderExits(PlainPrograms.Program sender, int n)
      throws Exception {
    int senderPort = sender.awaitPort();
    List<Socket> clients = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        Socket client = EchoClient.connect(senderPort);
        clients.add(client);
        EchoClient.assertEchoes(client, EchoClient.randomBytes(random, 1000 + i));
      }
      assertEquals(0, sender.awaitExit(Duration.ofSeconds(20)), sender.log());
      for (Socket client : clients) {
        EchoClient.assertEchoes(client, EchoClient.randomBytes(random, 5000));
      }
    } finally {
      for (Socket client : clients) {
        client.close();
      }
    }
  }

  /**
   * {@code proxy --protocol plain} links again, with its backoff, when a receiver goes away: here
   * our own app, which takes the link as a plain one, is stopped and started again.
   */
  @Test
  void thePlainProxyLinksAgainWhenTheReceiverComesBack() throws Exception {
    Daemon app = daemons.app(socket);
    Daemon proxy = daemons.proxy(port, socket, "--protocol", "plain", "--bind", "127.0.0.1",
        "--retry-max", "200ms");
    proxy.awaitLog("linked to plain receiver", Duration.ofSeconds(20));
    EchoClient.echoOnce(port, EchoClient.randomBytes(random, 10_000));
    String first = app.stopAndLog();
    assertEquals(1, count(first, PLAIN_LINK), first);
    proxy.awaitLog("went away", Duration.ofSeconds(10));
    Daemon again = daemons.app(socket);
    for (int i = 0; i < 3; i++) { // the first waits in the proxy's queue until it links again
      EchoClient.echoOnce(port, EchoClient.randomBytes(random, 2000));
    }
    String proxyLog = proxy.stopAndLog();
    assertEquals(2, count(proxyLog, "linked to plain receiver"), proxyLog);
    assertTrue(proxyLog.contains("sent=4 "), "nothing lost, nothing sent twice:\n" + proxyLog);
    String log = again.stopAndLog();
    assertEquals(1, count(log, PLAIN_LINK), log);
    assertTrue(log.contains("adopted=3 "), log);
  }

  /**
   * {@code app --no-plain}: a plain sender's link is refused, with a log line that says why, and
   * the connection it carried is closed. The sender here is the test itself, writing what Go's
   * WriteMsgUnix writes (one zero byte and the descriptor), so this runs without Go.
   */
  @Test
  void noPlainRefusesAPlainLinkAndSaysWhy() throws Exception {
    Daemon app = daemons.app(socket, "--no-plain");
    try (ServerSocketChannel listener = ServerSocketChannel.open()
            .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        SocketChannel client = SocketChannel.open(listener.getLocalAddress());
        AFUNIXSocketChannel link = AFUNIXSocketChannel.open(AFUNIXSocketAddress.of(socket))) {
      try (SocketChannel accepted = listener.accept()) {
        link.setOutboundFileDescriptors(JdkNioInternals.descriptorOf(accepted));
        link.write(ByteBuffer.allocate(1));
      } // the sender's copy closed at once, as a plain sender does
      app.awaitLog("plain links are turned off here (app --no-plain)", Duration.ofSeconds(10));
      client.socket().setSoTimeout(10_000);
      InputStream in = client.socket().getInputStream();
      try {
        assertEquals(-1, in.read(), "the refused connection was closed");
      } catch (SocketException reset) {
        // closed with unread data: a reset says the same
      }
      assertEquals(-1, link.read(ByteBuffer.allocate(16)), "the link was closed, unanswered");
    }
    String log = app.stopAndLog();
    assertEquals(0, count(log, PLAIN_LINK), log);
    assertTrue(log.contains("(BAD_MAGIC)"), log);
  }
}
