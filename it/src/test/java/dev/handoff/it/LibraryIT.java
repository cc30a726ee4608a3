package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.server.HandedOffChannel;
import dev.handoff.server.Handoff;
import dev.handoff.server.HandoffAcceptor;
import dev.handoff.server.HandoffServer;
import dev.handoff.server.HandoffServerBootstrap;
import dev.handoff.server.MigratableHandler;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The library's public API (only public types of {@code dev.handoff.server}) embedded in this
 * test's JVM, fed by the real {@code proxy} process: a stateful Netty handler whose state and
 * bytes survive a take-over, a pipeline that cannot move and stays, and the JDK SocketChannel
 * entry point serving 1,000 concurrent connections.
 */
@Timeout(240)
class LibraryIT extends DaemonTest {

  /**
   * Numbers the lines of each connection: "3 hello" for its third line. Its state, which moves
   * in a take-over, is the line count and the part of a line received so far.
   */
  static final class LineNumberer extends ChannelInboundHandlerAdapter
      implements MigratableHandler {
    private final String server;
    private final AtomicLong bytesRead;
    private long lines;
    private final ByteArrayOutputStream partial = new ByteArrayOutputStream();

    /** {@code bytesRead} counts the bytes the handlers of {@code server} have read. */
    LineNumberer(String server, AtomicLong bytesRead) {
      this.server = server;
      this.bytesRead = bytesRead;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ByteBuf in = (ByteBuf) msg;
      int received = in.readableBytes();
      try {
        while (in.isReadable()) {
          byte b = in.readByte();
          if (b != '\n') {
            partial.write(b);
            continue;
          }
          String line = partial.toString(StandardCharsets.UTF_8);
          partial.reset();
          String answer = switch (line) {
            case "who" -> server + " " + ctx.channel().remoteAddress() + " "
                + Handoff.of(ctx.channel()).client();
            default -> ++lines + " " + line;
          };
          ctx.write(Unpooled.copiedBuffer(answer + "\n", StandardCharsets.UTF_8));
        }
      } finally {
        in.release();
        bytesRead.addAndGet(received);
      }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      ctx.flush();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }

    @Override
    public byte[] exportState(ChannelHandlerContext ctx) {
      byte[] rest = partial.toByteArray();
      return ByteBuffer.allocate(8 + rest.length).putLong(lines).put(rest).array();
    }

    @Override
    public void importState(ChannelHandlerContext ctx, byte[] state) {
      ByteBuffer in = ByteBuffer.wrap(state);
      lines = in.getLong();
      partial.write(state, 8, state.length - 8);
    }
  }

  private static HandoffServerBootstrap numbering(String name, AtomicLong bytesRead) {
    return new HandoffServerBootstrap()
        .ioThreads(2)
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast("numberer", new LineNumberer(name, bytesRead));
          }
        });
  }

  @Test
  void aStatefulHandlersStateAndEveryByteSurviveATakeOver() throws Exception {
    AtomicLong readByOld = new AtomicLong();
    HandoffServer old = numbering("old", readByOld).bind(socket);
    HandoffServer successor = null;
    List<Socket> clients = new ArrayList<>();
    long sent = 0;
    try {
      daemons.proxy(port, socket);
      for (int c = 0; c < 20; c++) {
        Socket s = EchoClient.connect(port);
        clients.add(s);
        BufferedReader in = reader(s);
        OutputStream out = s.getOutputStream();
        out.write("who\n".getBytes());
        sent += "who\n".length();
        String who = in.readLine();
        String client = s.getLocalSocketAddress().toString().replace("/", "");
        assertEquals("old " + client + " " + client, who.replace("/", ""),
            "remoteAddress() and the handoff's client are the real client");
        for (int i = 1; i <= 3; i++) {
          out.write(("line " + i + "\n").getBytes());
          sent += ("line " + i + "\n").length();
          assertEquals(i + " line " + i, in.readLine());
        }
        out.write("half of a li".getBytes()); // a partial line, held in the handler's state
        sent += "half of a li".length();
      }
      long every = sent;
      Daemon.await("the old handlers read every byte sent (" + every + ")",
          Duration.ofSeconds(20), () -> readByOld.get() == every);
      successor = numbering("new", new AtomicLong()).takeOver(socket);
      old.handedOver().toCompletableFuture().get(30, TimeUnit.SECONDS);
      assertEquals(0, old.awaitDrained(Duration.ofSeconds(5)), "every connection moved");
      old.close();
      for (Socket s : clients) {
        BufferedReader in = reader(s);
        OutputStream out = s.getOutputStream();
        out.write("ne\nwho\n".getBytes());
        assertEquals("4 half of a line", in.readLine(), "count and partial line moved");
        assertTrue(in.readLine().startsWith("new "), "now served by the successor");
      }
      try (Socket fresh = EchoClient.connect(port)) {
        fresh.getOutputStream().write("first\n".getBytes());
        assertEquals("1 first", reader(fresh).readLine(), "new clients reach the successor");
      }
    } finally {
      for (Socket s : clients) {
        s.close();
      }
      old.close();
      if (successor != null) {
        successor.close();
      }
    }
  }

  /** A handler that implements nothing, in a pipeline not declared stateless: it stays. */
  @Test
  void aPipelineThatCannotMoveStaysWithTheOldServer() throws Exception {
    HandoffServerBootstrap plain = new HandoffServerBootstrap()
        .ioThreads(1)
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
              @Override
              public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ctx.writeAndFlush(msg);
              }
            });
          }
        });
    HandoffServer old = plain.bind(socket);
    HandoffServer successor = null;
    try (Socket client = EchoClient.connect(port0())) {
      EchoClient.assertEchoes(client, "before".getBytes());
      successor = plain.takeOver(socket);
      old.handedOver().toCompletableFuture().get(30, TimeUnit.SECONDS);
      assertEquals(1, old.liveConnections(), "the connection stayed with the old server");
      EchoClient.assertEchoes(client, "after".getBytes());
      assertEquals(0, successor.liveConnections());
    } finally {
      old.close();
      if (successor != null) {
        successor.close();
      }
    }
  }

  private int port0() throws IOException {
    daemons.proxy(port, socket);
    return port;
  }

  /**
   * The JDK entry point: a platform thread per connection, 1,000 at once, each echoing 16 KiB of
   * random bytes through the real proxy.
   */
  @Test
  void theSocketChannelAcceptorServesAThousandConcurrentConnections() throws Exception {
    ExecutorService serving = Executors.newCachedThreadPool();
    try (HandoffAcceptor acceptor = new HandoffServerBootstrap().bindAcceptor(socket, 1024)) {
      Thread accepting = new Thread(() -> {
        try {
          while (true) {
            HandedOffChannel next = acceptor.accept();
            serving.submit(() -> echo(next.channel()));
          }
        } catch (Exception e) {
          // closed
        }
      });
      accepting.setDaemon(true);
      accepting.start();
      daemons.proxy(port, socket);
      assertEquals(1000, ThousandClients.run(port, 1000, 16 * 1024));
    } finally {
      serving.shutdownNow();
    }
  }

  /**
   * The same on Java 21 and later with a virtual thread per connection: run in a JVM of its own
   * when Temurin 25 is on the machine (this build targets 17).
   */
  @Test
  void theSocketChannelAcceptorServesAThousandVirtualThreadsOnJava25() throws Exception {
    java.nio.file.Path java25 = java.nio.file.Path.of(
        System.getProperty("handoff.java25", "/usr/lib/jvm/temurin-25-jdk-amd64"), "bin", "java");
    org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isExecutable(java25),
        "no JDK 25 at " + java25 + " (-Dhandoff.java25=JAVA_HOME to point at one)");
    Process server = new ProcessBuilder(java25.toString(),
        "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
        "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED", "--enable-native-access=ALL-UNNAMED",
        "--sun-misc-unsafe-memory-access=allow",
        "-cp", System.getProperty("java.class.path"), VirtualThreadEchoServer.class.getName(),
        socket.toString())
        .redirectErrorStream(true)
        .redirectOutput(dir.resolve("virtual-threads.log").toFile())
        .start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!java.nio.file.Files.exists(socket) && System.nanoTime() < deadline) {
        Daemon.sleep(50);
      }
      assertTrue(server.isAlive(), java.nio.file.Files.readString(dir.resolve("virtual-threads.log")));
      daemons.proxy(port, socket);
      assertEquals(1000, ThousandClients.run(port, 1000, 16 * 1024));
      String log = java.nio.file.Files.readString(dir.resolve("virtual-threads.log"));
      assertTrue(log.contains("virtual threads on Java 25"), log);
    } finally {
      server.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  /** Blocking echo on a JDK channel until the client closes. */
  static Void echo(SocketChannel channel) throws IOException {
    try (channel) {
      ByteBuffer buf = ByteBuffer.allocate(16 * 1024);
      while (channel.read(buf) >= 0) {
        buf.flip();
        while (buf.hasRemaining()) {
          channel.write(buf);
        }
        buf.clear();
      }
    }
    return null;
  }

  private static BufferedReader reader(Socket s) throws IOException {
    return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
  }

  /** 1,000 clients at once, each sending random bytes and requiring them back byte-exact. */
  static final class ThousandClients {
    private ThousandClients() {}

    static int run(int port, int n, int bytes) throws Exception {
      ExecutorService clients = Executors.newFixedThreadPool(200);
      try {
        List<Socket> sockets = new ArrayList<>();
        for (int i = 0; i < n; i++) {
          sockets.add(EchoClient.connect(port)); // all open at once
        }
        List<Future<?>> echoes = new ArrayList<>();
        for (int i = 0; i < n; i++) {
          Socket s = sockets.get(i);
          byte[] data = EchoClient.randomBytes(new Random(i), bytes);
          echoes.add(clients.submit(() -> {
            EchoClient.assertEchoes(s, data);
            return null;
          }));
        }
        int served = 0;
        for (Future<?> f : echoes) {
          f.get(120, TimeUnit.SECONDS);
          served++;
        }
        for (Socket s : sockets) {
          s.close();
        }
        return served;
      } finally {
        clients.shutdownNow();
      }
    }
  }
}
