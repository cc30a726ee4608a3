package dev.handoff.proxy.accept;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.HandoffHeader;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The PROXY header reader on real loopback sockets: exactly the header is consumed from a trusted
 * source and nothing from anyone else; what has no valid header, or an untrusted one, is closed;
 * every wait is bounded.
 */
class ProxyHeaderReaderTest {
  private static final byte[] SIG = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49,
      0x54, 0x0A};

  private final ProxyStats stats = new ProxyStats(new SimpleMeterRegistry());
  private final BlockingQueue<AcceptedConnection> delivered = new LinkedBlockingQueue<>();
  private final List<AutoCloseable> open = new ArrayList<>();
  private ServerSocketChannel server;
  private ProxyHeaderReader reader;
  private Thread thread;
  private long ids;

  private void start(String trusted, Duration timeout) throws IOException {
    start(trusted, timeout, 64);
  }

  private void start(String trusted, Duration timeout, int limit) throws IOException {
    server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
    open.add(server);
    reader = new ProxyHeaderReader(List.of(Cidr.parse(trusted)), timeout, limit, delivered::add,
        stats);
    thread = new Thread(reader, "proxy-protocol-test");
    thread.setDaemon(true);
    thread.start();
  }

  /** A client connected and accepted; the accepted end is given to the reader. */
  private Socket connect() throws IOException {
    Socket client = new Socket();
    open.add(client);
    client.connect(server.getLocalAddress(), 5000);
    client.setSoTimeout(5000);
    SocketChannel accepted = server.accept();
    open.add(accepted);
    reader.submit(accepted, ++ids, 1, System.nanoTime(),
        (InetSocketAddress) accepted.getRemoteAddress(),
        (InetSocketAddress) accepted.getLocalAddress());
    return client;
  }

  private AcceptedConnection next() throws InterruptedException {
    AcceptedConnection conn = delivered.poll(5, TimeUnit.SECONDS);
    assertNotNull(conn, "handed on within 5 s");
    open.add(conn::close);
    return conn;
  }

  /** Reads what the app would read first: exactly {@code n} bytes, within 5 s. */
  private static byte[] readFromProxySide(AcceptedConnection conn, SocketChannel channel, int n)
      throws Exception {
    assertTrue(channel.isBlocking(), "handed on in blocking mode, as the acceptor does");
    channel.configureBlocking(false);
    ByteBuffer got = ByteBuffer.allocate(n + 16);
    try (java.nio.channels.Selector selector = java.nio.channels.Selector.open()) {
      channel.register(selector, java.nio.channels.SelectionKey.OP_READ);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (got.position() < n && System.nanoTime() - deadline < 0) {
        selector.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
        selector.selectedKeys().clear();
        if (channel.read(got) < 0) {
          break;
        }
      }
      if (selector.select(20) > 0) { // nothing more may be there
        channel.read(got);
      }
    }
    byte[] bytes = new byte[got.position()];
    got.flip().get(bytes);
    return bytes;
  }

  private SocketChannel channelOf(AcceptedConnection conn) {
    for (AutoCloseable c : open) {
      if (c instanceof SocketChannel ch && ch.isOpen()) {
        try {
          if (conn.header().client().equals(ch.getRemoteAddress())) {
            return ch;
          }
        } catch (IOException e) {
          // next
        }
      }
    }
    throw new AssertionError("no channel for " + conn);
  }

  /** The client sees its connection closed by the proxy within 5 s. */
  private static void assertClosedByProxy(Socket client) throws IOException {
    InputStream in = client.getInputStream();
    try {
      assertEquals(-1, in.read(), "closed, nothing sent");
    } catch (SocketTimeoutException e) {
      throw new AssertionError("still open after 5 s", e);
    } catch (IOException reset) {
      // closed with unread bytes: a reset is closed too
    }
  }

  private void awaitHeldZero() {
    awaitHeld(0, "the reader holds nothing once each connection is decided");
  }

  /** Waits, at most 5 s, until {@code n} connections are held; fails with {@code why} if not. */
  private void awaitHeld(int n, String why) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (stats.held.get() != n && System.nanoTime() - deadline < 0) {
      java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
    }
    assertEquals(n, stats.held.get(), why);
  }

  @AfterEach
  void stop() throws Exception {
    if (reader != null) {
      reader.stop();
      thread.join(5000);
      assertTrue(!thread.isAlive(), "the reader stops");
    }
    for (AutoCloseable c : open) {
      c.close();
    }
  }

  @Test
  void consumesExactlyAV1HeaderFromATrustedBalancer() throws Exception {
    start("127.0.0.1/32", Duration.ofSeconds(3));
    Socket client = connect();
    byte[] header = "PROXY TCP4 203.0.113.9 192.0.2.1 40000 443\r\n"
        .getBytes(StandardCharsets.US_ASCII);
    byte[] data = "HELLO\r\nPROXY TCP4 1.1.1.1 1.1.1.1 1 1\r\n"
        .getBytes(StandardCharsets.US_ASCII);
    OutputStream out = client.getOutputStream();
    out.write(concat(header, data));
    out.flush();
    AcceptedConnection conn = next();
    HandoffHeader h = conn.header();
    assertNotNull(h.origin());
    assertEquals(new InetSocketAddress("203.0.113.9", 40000), h.origin().address());
    assertEquals(client.getLocalSocketAddress(), h.client(), "the balancer stays the TCP peer");
    assertArrayEquals(data, readFromProxySide(conn, channelOf(conn), data.length),
        "the stream from its first byte after the header, a second header included");
    assertEquals(1, stats.proxyHeaderRead.sum());
    assertEquals(1, stats.held.get(), "held by the connection handed on, until it is closed");
    conn.close();
    awaitHeldZero();
  }

  @Test
  void readsAV2HeaderThatArrivesOneByteAtATime() throws Exception {
    start("127.0.0.0/8", Duration.ofSeconds(3));
    Socket client = connect();
    ByteBuffer v2 = ByteBuffer.allocate(16 + 36 + 3 + 11 + 3 + 4);
    v2.put(SIG).put((byte) 0x21).put((byte) 0x21).putShort((short) (36 + 3 + 11 + 3 + 4))
        .put(InetAddress.getByName("2001:db8::5").getAddress())
        .put(InetAddress.getByName("2001:db8::1").getAddress())
        .putShort((short) 51000).putShort((short) 443)
        .put((byte) 0x02).putShort((short) 11).put("example.org".getBytes(StandardCharsets.UTF_8))
        .put((byte) 0x05).putShort((short) 4).put(new byte[] {9, 8, 7, 6});
    byte[] data = {0x16, 0x03, 0x01, 0x00};
    OutputStream out = client.getOutputStream();
    client.setTcpNoDelay(true);
    for (byte b : v2.array()) {
      out.write(b);
      out.flush();
      Thread.sleep(2);
    }
    out.write(data);
    out.flush();
    AcceptedConnection conn = next();
    HandoffHeader h = conn.header();
    assertEquals(new InetSocketAddress("2001:db8::5", 51000), h.origin().address());
    assertEquals("example.org", h.origin().authority());
    assertArrayEquals(new byte[] {9, 8, 7, 6}, h.origin().uniqueId());
    assertArrayEquals(data, readFromProxySide(conn, channelOf(conn), data.length));
    conn.close();
    awaitHeldZero();
  }

  @Test
  void aLocalCommandKeepsTheRealPeer() throws Exception {
    start("127.0.0.1", Duration.ofSeconds(3));
    Socket client = connect();
    ByteBuffer v2 = ByteBuffer.allocate(16).put(SIG).put((byte) 0x20).put((byte) 0)
        .putShort((short) 0);
    client.getOutputStream().write(concat(v2.array(), new byte[] {'x'}));
    AcceptedConnection conn = next();
    assertNull(conn.header().origin(), "a health check speaks for nobody");
    assertEquals(client.getLocalSocketAddress(), conn.header().client());
    assertArrayEquals(new byte[] {'x'}, readFromProxySide(conn, channelOf(conn), 1));
  }

  @Test
  void closesWhatATrustedSourceSendsWithoutAValidHeader() throws Exception {
    start("127.0.0.1/32", Duration.ofSeconds(3));
    Socket garbage = connect();
    garbage.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    Socket malformed = connect();
    malformed.getOutputStream().write(
        "PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\nDATA".getBytes(StandardCharsets.US_ASCII));
    Socket early = connect();
    early.getOutputStream().write("PROXY TCP4 1.2".getBytes(StandardCharsets.US_ASCII));
    early.shutdownOutput();
    assertClosedByProxy(garbage);
    assertClosedByProxy(malformed);
    assertClosedByProxy(early);
    assertNull(delivered.poll(100, TimeUnit.MILLISECONDS), "nothing handed on");
    assertEquals(3, stats.proxyHeaderInvalid.sum());
    awaitHeldZero();
  }

  @Test
  void aTrustedSourceThatSendsNothingIsClosedWhenTheTimeIsUp() throws Exception {
    start("127.0.0.1/32", Duration.ofMillis(300));
    long t0 = System.nanoTime();
    Socket silent = connect();
    Socket half = connect();
    half.getOutputStream().write(SIG); // a signature and then nothing
    assertClosedByProxy(silent);
    assertClosedByProxy(half);
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    assertTrue(ms >= 290, "not before the timeout: " + ms + " ms");
    assertTrue(ms < 3000, "soon after the timeout: " + ms + " ms");
    assertEquals(2, stats.proxyHeaderInvalid.sum());
    awaitHeldZero();
  }

  @Test
  void refusesAHeaderFromAnUntrustedSource() throws Exception {
    start("10.0.0.0/8", Duration.ofSeconds(3));
    Socket v1 = connect();
    v1.getOutputStream().write("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nX"
        .getBytes(StandardCharsets.US_ASCII));
    Socket v2 = connect();
    v2.getOutputStream().write(SIG); // the signature alone is enough to refuse
    assertClosedByProxy(v1);
    assertClosedByProxy(v2);
    assertNull(delivered.poll(100, TimeUnit.MILLISECONDS));
    assertEquals(2, stats.proxyHeaderRefused.sum());
    awaitHeldZero();
  }

  @Test
  void takesNothingFromAnUntrustedClient() throws Exception {
    start("10.0.0.0/8", Duration.ofSeconds(3));
    Socket client = connect();
    OutputStream out = client.getOutputStream();
    client.setTcpNoDelay(true);
    out.write("PRO".getBytes(StandardCharsets.US_ASCII)); // could still become "PROXY "
    out.flush();
    assertNull(delivered.poll(50, TimeUnit.MILLISECONDS),
        "undecided while it could be a signature");
    out.write("PFIND / HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII));
    out.flush();
    AcceptedConnection conn = next();
    assertNull(conn.header().origin());
    byte[] expected = "PROPFIND / HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII);
    assertArrayEquals(expected, readFromProxySide(conn, channelOf(conn), expected.length),
        "peeked, never consumed");
    assertEquals(0, stats.proxyHeaderRefused.sum());
    conn.close();
    awaitHeldZero();
  }

  @Test
  void anUntrustedClientThatSendsNothingGoesOnWhenTheTimeIsUp() throws Exception {
    start("10.0.0.0/8", Duration.ofMillis(300));
    long t0 = System.nanoTime();
    connect();
    AcceptedConnection conn = next();
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    assertTrue(ms >= 290 && ms < 3000, ms + " ms");
    assertNull(conn.header().origin());
    conn.close();
    awaitHeldZero();
  }

  @Test
  void stoppingClosesTheConnectionsStillWaiting() throws Exception {
    start("127.0.0.1/32", Duration.ofSeconds(30));
    Socket a = connect();
    Socket b = connect();
    awaitHeld(2, "both connections wait for their first bytes");
    reader.stop();
    thread.join(5000);
    assertTrue(!thread.isAlive(), "the reader stops");
    assertClosedByProxy(a);
    assertClosedByProxy(b);
    assertEquals(0, stats.held.get());
    assertEquals(2, stats.droppedShutdown.sum());
  }

  @Test
  void theAcceptorWaitsForRoomWhenTheLimitIsReached() throws Exception {
    start("127.0.0.1/32", Duration.ofMillis(400), 2);
    connect();
    connect();
    Socket client = new Socket();
    open.add(client);
    client.connect(server.getLocalAddress(), 5000);
    SocketChannel third = server.accept();
    open.add(third);
    long t0 = System.nanoTime();
    reader.submit(third, 99, 1, System.nanoTime(), (InetSocketAddress) third.getRemoteAddress(),
        (InetSocketAddress) third.getLocalAddress()); // waits until the first two time out
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    assertTrue(ms >= 300 && ms < 5000, "waited for room: " + ms + " ms");
    assertEquals(1, stats.acceptPauses.sum());
    assertEquals(0, stats.acceptPaused.get());
    client.setSoTimeout(5000);
    assertClosedByProxy(client); // and is itself closed when its time is up
    awaitHeldZero();
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = new byte[a.length + b.length];
    System.arraycopy(a, 0, out, 0, a.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
