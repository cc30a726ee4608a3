package dev.handoff.it;

import static dev.handoff.it.EchoClient.assertEchoes;
import static dev.handoff.it.EchoClient.connect;
import static dev.handoff.it.EchoClient.echoOnce;
import static dev.handoff.it.EchoClient.randomBytes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The two commands of the design, started as separate processes the way a user would. */
@Timeout(180)
class HandoffPairIT extends DaemonTest {
  private final Random random = new Random(1987);

  @Test
  void appFirstThenProxy() throws Exception {
    daemons.app(socket);
    daemons.proxy(port, socket);
    echoOnce(port, randomBytes(random, 4096));
  }

  @Test
  void proxyFirstThenAppServesTheClientsThatWaited() throws Exception {
    Daemon proxy = daemons.proxy(port, socket);
    try (Socket early = connect(port)) {
      early.getOutputStream().write("waited".getBytes());
      proxy.awaitLog("app not reachable", Duration.ofSeconds(10));
      daemons.app(socket);
      assertArrayEquals("waited".getBytes(), EchoClient.readExactly(early.getInputStream(), 6),
          "a client accepted before the app existed is served once it links");
    }
    proxy.awaitLog("linked to app", Duration.ofSeconds(5));
    echoOnce(port, randomBytes(random, 4096));
  }

  @Test
  void thousandConcurrentClientsEchoByteExact() throws Exception {
    daemons.app(socket);
    daemons.proxy(port, socket);
    int clients = 1000;
    List<Socket> sockets = new ArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(32);
    try {
      for (int i = 0; i < clients; i++) {
        sockets.add(connect(port));
      }
      List<Future<?>> results = new ArrayList<>();
      for (int i = 0; i < clients; i++) {
        Socket s = sockets.get(i);
        byte[] data = randomBytes(random, 1 + random.nextInt(32 * 1024));
        results.add(pool.submit(() -> {
          assertEchoes(s, data);
          return null;
        }));
      }
      for (Future<?> f : results) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
      for (Socket s : sockets) {
        s.close();
      }
    }
  }

  @Test
  void streams64MiBEachWay() throws Exception {
    daemons.app(socket);
    daemons.proxy(port, socket);
    long total = 64L << 20;
    try (Socket s = connect(port)) {
      ExecutorService writer = Executors.newSingleThreadExecutor();
      Future<?> sent = writer.submit(() -> {
        SplittableRandom gen = new SplittableRandom(64);
        byte[] chunk = new byte[64 * 1024];
        OutputStream out = s.getOutputStream();
        for (long done = 0; done < total; done += chunk.length) {
          fill(gen, chunk);
          out.write(chunk);
        }
        s.shutdownOutput();
        return null;
      });
      SplittableRandom expected = new SplittableRandom(64);
      byte[] want = new byte[64 * 1024];
      InputStream in = s.getInputStream();
      for (long done = 0; done < total; done += want.length) {
        fill(expected, want);
        assertArrayEquals(want, EchoClient.readExactly(in, want.length),
            "64 MiB echo, chunk at offset " + done);
      }
      assertEquals(-1, in.read(), "the app closes after echoing everything of a half-closed stream");
      sent.get(10, TimeUnit.SECONDS);
      writer.shutdown();
    }
  }

  private static void fill(SplittableRandom gen, byte[] chunk) {
    for (int i = 0; i < chunk.length; i += 8) {
      long v = gen.nextLong();
      for (int j = 0; j < 8; j++) {
        chunk[i + j] = (byte) (v >>> (8 * j));
      }
    }
  }

  @Test
  void aClientThatDoesNotReadStopsTheAppFromReading() throws Exception {
    daemons.app(socket);
    daemons.proxy(port, socket);
    int chunk = 1 << 20;
    int limit = 64;
    try (java.nio.channels.SocketChannel s = java.nio.channels.SocketChannel.open(
        new java.net.InetSocketAddress("127.0.0.1", port))) {
      s.configureBlocking(false);
      SplittableRandom gen = new SplittableRandom(7);
      byte[] block = new byte[chunk];
      long written = 0;
      long lastProgress = System.nanoTime();
      java.nio.ByteBuffer pending = java.nio.ByteBuffer.allocate(0);
      while (written < (long) limit * chunk
          && System.nanoTime() - lastProgress < TimeUnit.SECONDS.toNanos(2)) {
        if (!pending.hasRemaining()) {
          fill(gen, block);
          pending = java.nio.ByteBuffer.wrap(block.clone());
        }
        int n = s.write(pending);
        if (n > 0) {
          written += n;
          lastProgress = System.nanoTime();
        } else {
          Thread.sleep(5); // the socket's buffer is full: try the non-blocking write again
        }
      }
      assertTrue(written < (long) (limit - 16) * chunk,
          "the app stopped taking bytes from a client that does not read (took " + written
              + " bytes: kernel buffers plus --max-unsent, not everything)");
      s.configureBlocking(true);
      s.shutdownOutput();
      SplittableRandom expected = new SplittableRandom(7);
      byte[] want = new byte[chunk];
      java.nio.ByteBuffer got = java.nio.ByteBuffer.allocate(chunk);
      for (long done = 0; done < written; done += chunk) {
        fill(expected, want);
        got.clear().limit((int) Math.min(chunk, written - done));
        while (got.hasRemaining() && s.read(got) >= 0) {
          // keep reading
        }
        assertArrayEquals(java.util.Arrays.copyOf(want, got.position()),
            java.util.Arrays.copyOf(got.array(), got.position()),
            "after the pause every byte comes back, in order, at offset " + done);
      }
    }
  }

  @Test
  void halfCloseEchoesEverythingThenCloses() throws Exception {
    daemons.app(socket);
    daemons.proxy(port, socket);
    try (Socket s = connect(port)) {
      byte[] data = randomBytes(random, 200_000);
      s.getOutputStream().write(data);
      s.shutdownOutput();
      assertArrayEquals(data, s.getInputStream().readAllBytes(),
          "after the client's FIN, everything it sent comes back, then EOF");
    }
  }

  @Test
  void appKilledAndRestartedWhileTheProxyRuns() throws Exception {
    Daemon app = daemons.app(socket);
    Daemon proxy = daemons.proxy(port, socket);
    echoOnce(port, randomBytes(random, 1000));
    app.kill();
    assertTrue(Files.exists(socket), "SIGKILL leaves the socket file behind");
    Daemon second = daemons.app(socket);
    second.awaitLog("removing stale socket file", Duration.ofSeconds(1));
    for (int i = 0; i < 20; i++) {
      echoOnce(port, randomBytes(random, 1000));
    }
    proxy.awaitLog("linked to app", Duration.ofSeconds(1));
    assertTrue(proxy.isAlive(), "the proxy never exits for a lost app");
  }

  @Test
  void proxyKilledWhileClientsAreConnectedTheyKeepEchoing() throws Exception {
    daemons.app(socket);
    Daemon proxy = daemons.proxy(port, socket);
    List<Socket> clients = new ArrayList<>();
    try {
      for (int i = 0; i < 50; i++) {
        Socket s = connect(port);
        clients.add(s);
        assertEchoes(s, randomBytes(random, 512));
      }
      proxy.kill();
      for (Socket s : clients) {
        assertEchoes(s, randomBytes(random, 4096));
      }
    } finally {
      for (Socket s : clients) {
        s.close();
      }
    }
  }

  @Test
  void aLiveSocketIsNeverTakenOver() throws Exception {
    daemons.app(socket);
    daemons.proxy(port, socket);
    Daemon second = daemons.start("app", socket.toString());
    assertEquals(3, second.awaitExit(Duration.ofSeconds(20)), second.log());
    assertTrue(second.log().contains("another app is listening on " + socket), second.log());
    echoOnce(port, randomBytes(random, 1000));
  }

  @Test
  void aFileThatIsNotASocketIsLeftAlone() throws Exception {
    Files.writeString(socket, "precious");
    Daemon app = daemons.start("app", socket.toString());
    assertEquals(1, app.awaitExit(Duration.ofSeconds(20)), app.log());
    assertTrue(app.log().contains("is not a socket"), app.log());
    assertEquals("precious", Files.readString(socket));
  }

  @Test
  void aSymlinkPlantedAtTheSocketPathIsNeverFollowed() throws Exception {
    Path target = dir.resolve("victim");
    Files.createSymbolicLink(socket, target);
    Daemon app = daemons.start("app", socket.toString());
    assertEquals(1, app.awaitExit(Duration.ofSeconds(20)), app.log());
    assertTrue(app.log().contains("is not a socket"), app.log());
    assertFalse(Files.exists(target, java.nio.file.LinkOption.NOFOLLOW_LINKS),
        "nothing was created where the symlink points");
    assertTrue(Files.isSymbolicLink(socket), "the symlink itself is left alone");
  }

  @Test
  void sigtermStopsBothWithStatusZeroAndRemovesTheSocket() throws Exception {
    Daemon app = daemons.app(socket);
    Daemon proxy = daemons.proxy(port, socket);
    echoOnce(port, randomBytes(random, 1000));
    proxy.terminate();
    assertEquals(0, proxy.awaitExit(Duration.ofSeconds(10)), proxy.log());
    app.terminate();
    assertEquals(0, app.awaitExit(Duration.ofSeconds(10)), app.log());
    assertFalse(Files.exists(socket), "the app removes its socket file on a clean shutdown");
  }

  @Test
  void appSigtermLetsOpenConnectionsFinishWithinTheDrainTimeout() throws Exception {
    Daemon app = daemons.app(socket, "--drain-timeout", "10s");
    daemons.proxy(port, socket);
    try (Socket s = connect(port)) {
      assertEchoes(s, randomBytes(random, 100));
      app.terminate();
      app.awaitLog("no longer taking handoffs", Duration.ofSeconds(5));
      assertEchoes(s, randomBytes(random, 100));
    }
    assertEquals(0, app.awaitExit(Duration.ofSeconds(5)),
        "the app exits as soon as its last connection closes");
  }
}
