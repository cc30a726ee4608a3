package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.server.HandoffServer;
import dev.handoff.server.HandoffServerBootstrap;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The recipes of docs/LIBRARY.md, taken from the document itself, compiled against the library
 * and run behind the real proxy, each until a successor takes over from it: what a reader copies
 * works, take-over included.
 */
@Timeout(180)
class LibraryRecipesIT extends DaemonTest {
  private static final Duration START = Duration.ofSeconds(30);

  @Test
  void theServerBootstrapRecipeServesAndStopsWhenASuccessorTakesOver() throws Exception {
    CompletableFuture<Void> recipe = run("EchoServer", socket.toString());
    daemons.proxy(port, socket);
    assertEquals("hello", echo("hello"));
    try (HandoffServer successor = echoing().takeOver(socket)) {
      recipe.get(START.toSeconds(), TimeUnit.SECONDS);
      assertEquals("after", echo("after"), "the successor serves the next connection");
    }
  }

  @Test
  void theGrpcRecipeServesHealthAndStopsWhenASuccessorTakesOver() throws Exception {
    CompletableFuture<Void> recipe = run("HealthServer", socket.toString());
    daemons.proxy(port, socket);
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext()
        .build();
    try {
      HealthCheckResponse health = HealthGrpc.newBlockingStub(channel)
          .withDeadlineAfter(10, TimeUnit.SECONDS).check(HealthCheckRequest.getDefaultInstance());
      assertEquals(HealthCheckResponse.ServingStatus.SERVING, health.getStatus());
      try (HandoffServer successor = echoing().takeOver(socket)) {
        recipe.get(START.toSeconds(), TimeUnit.SECONDS);
        assertFalse(successor.summary().isEmpty());
      }
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  /** A successor for the recipes: an echo server on the same path. */
  private static HandoffServerBootstrap echoing() {
    return new HandoffServerBootstrap().ioThreads(1).stateless(true)
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
  }

  private String echo(String word) throws Exception {
    try (Socket client = EchoClient.connect(port)) {
      client.getOutputStream().write((word + "\n").getBytes(StandardCharsets.UTF_8));
      return new BufferedReader(new InputStreamReader(client.getInputStream(),
          StandardCharsets.UTF_8)).readLine();
    }
  }

  /**
   * Compiles the recipe {@code name} of docs/LIBRARY.md and runs its main on a thread of its own;
   * returns once the socket file is there, with what completes when main returns.
   */
  private CompletableFuture<Void> run(String name, String... args) throws Exception {
    Method main = DocExamples.compile("docs/LIBRARY.md", name, dir)
        .getMethod("main", String[].class);
    CompletableFuture<Void> done = new CompletableFuture<>();
    Thread thread = new Thread(() -> {
      try {
        main.invoke(null, (Object) args);
        done.complete(null);
      } catch (InvocationTargetException e) {
        done.completeExceptionally(e.getCause());
      } catch (ReflectiveOperationException | RuntimeException e) {
        done.completeExceptionally(e);
      }
    }, name);
    thread.setDaemon(true);
    thread.start();
    long deadline = System.nanoTime() + START.toNanos();
    while (!Files.exists(socket)) {
      assertTrue(System.nanoTime() - deadline < 0 && !done.isDone(),
          name + " binds " + socket + " within " + START + (done.isDone() ? ": " + done : ""));
      Daemon.sleep(20);
    }
    return done;
  }
}
