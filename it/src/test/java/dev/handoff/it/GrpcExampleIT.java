package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.examples.grpc.Echo;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The gRPC example (examples-grpc/, scripts/grpc-example) behind the real {@code proxy}: grpc-java's
 * client and Debian's python3-grpcio call it; lsof shows the example holding the client's
 * connection; and a client calling without pause sees no failed call across three take-overs.
 */
@Timeout(300)
class GrpcExampleIT extends DaemonTest {
  private static final Duration START = Duration.ofSeconds(30);
  private static final String PYTHON = "/usr/bin/python3";

  private Daemon grpcExample(String... options) throws IOException {
    List<String> args = new ArrayList<>(List.of(options));
    args.add(socket.toString());
    Daemon app = daemons.start("grpc-example", args.toArray(new String[0]));
    app.awaitLog("serving gRPC", START);
    return app;
  }

  private ManagedChannel client() {
    return NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
  }

  private static byte[] say(ManagedChannel channel, byte[] request) {
    return ClientCalls.blockingUnaryCall(channel, Echo.SAY,
        CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), request);
  }

  @Test
  void grpcJavaCallsHealthAndEchoAndTheExampleHoldsItsConnection() throws Exception {
    Daemon app = grpcExample();
    daemons.proxy(port, socket);
    ManagedChannel channel = client();
    try {
      HealthCheckResponse health = HealthGrpc.newBlockingStub(channel)
          .withDeadlineAfter(10, TimeUnit.SECONDS)
          .check(HealthCheckRequest.newBuilder().setService("").build());
      assertEquals(HealthCheckResponse.ServingStatus.SERVING, health.getStatus());
      byte[] hello = "hello handoff".getBytes(StandardCharsets.UTF_8);
      assertArrayEquals(hello, say(channel, hello));
      Iterator<byte[]> copies = ClientCalls.blockingServerStreamingCall(channel, Echo.REPEAT,
          CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), hello);
      int n = 0;
      while (copies.hasNext()) {
        assertArrayEquals(hello, copies.next());
        n++;
      }
      assertEquals(Echo.COPIES, n, "the server-streaming call sends every copy");

      Assumptions.assumeTrue(PlainPrograms.onPath("lsof"),
          "lsof is not installed (apt-get install lsof; .ci/run and scripts/test.sh install it)");
      String held = lsof(app.pid());
      assertTrue(held.contains(":" + port + "->127.0.0.1:") && held.contains("ESTABLISHED"),
          "the example's JVM holds the client's TCP connection on port " + port + ":\n" + held);
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void pythonGrpcioGetsServingForAnEmptyHealthCheck() throws Exception {
    Assumptions.assumeTrue(new File(PYTHON).canExecute() && exitsZero(PYTHON, "-c", "import grpc"),
        "python3-grpcio is not installed (apt-get install python3-grpcio; .ci/run and"
            + " scripts/test.sh install it)");
    grpcExample();
    daemons.proxy(port, socket);
    String script = String.join("\n",
        "import grpc, sys",
        "channel = grpc.insecure_channel('127.0.0.1:' + sys.argv[1])",
        "check = channel.unary_unary('/grpc.health.v1.Health/Check')",
        "print(check(b'', timeout=10).hex())");
    Process python = new ProcessBuilder(PYTHON, "-c", script, Integer.toString(port))
        .redirectErrorStream(true).start();
    String out = new String(python.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(python.waitFor(30, TimeUnit.SECONDS), out);
    assertEquals(0, python.exitValue(), out);
    assertEquals("0801", out.strip(), "HealthCheckResponse{status: SERVING} as raw bytes");
  }

  /**
   * The example on Temurin 25 (the launcher's HANDOFF_JAVA) behind the proxy on this JDK: health
   * and echo answer, from a JVM that is the 25 one. Skipped where no JDK 25 is installed.
   */
  @Test
  void theExampleServesThroughTheProxyOnJava25() throws Exception {
    Path java25 = Path.of(System.getProperty("handoff.java25",
        "/usr/lib/jvm/temurin-25-jdk-amd64"), "bin", "java");
    Assumptions.assumeTrue(Files.isExecutable(java25),
        "no JDK 25 at " + java25 + " (-Dhandoff.java25=JAVA_HOME to point at one)");
    Daemon app = daemons.startWithEnv(Map.of("HANDOFF_JAVA", java25.toString()), "grpc-example",
        socket.toString());
    app.awaitLog("serving gRPC", START);
    assertEquals(java25.toRealPath(), Path.of("/proc", Long.toString(app.pid()), "exe")
        .toRealPath(), "the example runs on JDK 25");
    daemons.proxy(port, socket);
    ManagedChannel channel = client();
    try {
      assertEquals(HealthCheckResponse.ServingStatus.SERVING, HealthGrpc.newBlockingStub(channel)
          .withDeadlineAfter(10, TimeUnit.SECONDS)
          .check(HealthCheckRequest.newBuilder().setService("").build()).getStatus());
      byte[] hello = "hello from 25".getBytes(StandardCharsets.UTF_8);
      assertArrayEquals(hello, say(channel, hello));
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  /**
   * A grpc-java client calls without pause while three successors take over one after the other:
   * each old server answers GOAWAY, finishes what is in flight and exits 0, the client's next
   * connection goes through the proxy to the successor, and no call fails.
   */
  @Test
  void aClientCallingWithoutPauseSeesNoFailedCallAcrossThreeTakeOvers() throws Exception {
    Daemon current = grpcExample();
    daemons.proxy(port, socket);
    ManagedChannel channel = client();
    AtomicLong ok = new AtomicLong();
    AtomicLong failed = new AtomicLong();
    AtomicReference<Throwable> firstFailure = new AtomicReference<>();
    long stopAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(200);
    java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
    Thread caller = new Thread(() -> {
      byte[] request = new byte[64];
      for (long i = 0; i < 2_000_000 && System.nanoTime() - stopAt < 0
          && !done.get(); i++) {
        request[0] = (byte) i;
        try {
          byte[] answer = say(channel, request);
          if (answer.length == request.length && answer[0] == request[0]) {
            ok.incrementAndGet();
          } else {
            failed.incrementAndGet();
          }
        } catch (RuntimeException e) {
          failed.incrementAndGet();
          firstFailure.compareAndSet(null, e);
        }
      }
    }, "grpc-caller");
    caller.start();
    try {
      awaitCalls(ok, 200);
      for (int round = 1; round <= 3; round++) {
        Daemon next = grpcExample("--take-over");
        assertEquals(0, current.awaitExit(START),
            "take-over " + round + ": the old server drains and exits 0:\n" + current.log());
        assertTrue(current.log().contains("a successor took over"), current.log());
        long before = ok.get();
        awaitCalls(ok, before + 200);
        current = next;
      }
    } finally {
      done.set(true); // the call under way finishes: an interrupt would cancel it
      caller.join(30_000);
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    assertFalse(caller.isAlive(), "the caller finishes its last call and ends");
    assertEquals(0, failed.get(), "failed calls; the first: " + firstFailure.get());
    System.out.println("GrpcExampleIT: " + ok.get() + " calls across three take-overs, "
        + failed.get() + " failed");
  }

  /** Waits until {@code ok} reaches {@code target}: calls go on being answered. */
  private static void awaitCalls(AtomicLong ok, long target) {
    long deadline = System.nanoTime() + START.toNanos();
    while (ok.get() < target) {
      assertTrue(System.nanoTime() - deadline < 0,
          "calls are answered: " + ok.get() + " of " + target + " within " + START);
      Daemon.sleep(10);
    }
  }

  private static String lsof(long pid) throws Exception {
    Process p = new ProcessBuilder("lsof", "-nP", "-a", "-p", Long.toString(pid), "-iTCP")
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor(30, TimeUnit.SECONDS);
    return out;
  }

  private static boolean exitsZero(String... command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException | InterruptedException e) {
      return false;
    }
  }
}
