package dev.handoff.examples.http;

import dev.handoff.cli.CliCommand;
import dev.handoff.cli.CommandSpecs;
import dev.handoff.cli.ExitCodes;
import dev.handoff.cli.LoggingOptions;
import dev.handoff.cli.ShutdownSignal;
import dev.handoff.cli.UsageErrorHandler;
import dev.handoff.server.HandoffServer;
import dev.handoff.server.HandoffServerBootstrap;
import dev.handoff.server.SocketInUseException;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * {@code http-example SOCKET [--take-over]}: an HTTP/1.1 server on Netty's codec-http, serving
 * the connections a {@code proxy} hands over on SOCKET. Built on the public API of handoff-server
 * only. In a take-over, keep-alive connections idle between requests move to the new process with
 * their request count ({@link HttpMoveGuard}); a connection in the middle of a request finishes
 * here.
 */
public final class HttpApp implements CliCommand {
  private static final Logger log = LoggerFactory.getLogger(HttpApp.class);

  /** Pipeline names: a successor must build the same pipeline, as state is matched by name. */
  static final String GUARD = "move-guard";

  private final CommandSpec spec = CommandSpecs.command("http-example", this,
      "An HTTP/1.1 server behind proxy: listens on the unix socket SOCKET for proxies and serves"
          + " the connections they hand over. GET / describes the connection, GET /echo?x=TEXT"
          + " answers TEXT, POST /echo answers the body.");

  private final LoggingOptions logging = new LoggingOptions().addTo(spec);

  private final PositionalParamSpec socket = PositionalParamSpec.builder().index("0")
      .paramLabel("SOCKET").type(Path.class).description("Path of the unix socket.").build();

  private final OptionSpec takeOver = OptionSpec.builder("--take-over")
      .type(boolean.class).initialValue(false)
      .description("Take over from the app running at SOCKET: keep-alive connections idle"
          + " between requests move here with their request count; connections in the middle of"
          + " a request finish on the old app, which then exits 0.")
      .build();

  private final OptionSpec ioThreads = OptionSpec.builder("--io-threads").paramLabel("N")
      .type(int.class).initialValue(2)
      .description("Event loops serving connections. Default: ${DEFAULT-VALUE}.")
      .build();

  private final OptionSpec maxContent = OptionSpec.builder("--max-content").paramLabel("BYTES")
      .type(int.class).initialValue(1024 * 1024)
      .description("Largest request body accepted; larger ones are answered 413."
          + " Default: ${DEFAULT-VALUE}.")
      .build();

  private final OptionSpec drainTimeout = CommandSpecs.duration("--drain-timeout")
      .defaultValue("10s")
      .description("On SIGTERM or after a take-over, how long the connections still here may go"
          + " on before they are closed. Default: ${DEFAULT-VALUE}.")
      .build();

  {
    spec.addPositional(socket);
    spec.addOption(takeOver).addOption(ioThreads).addOption(maxContent).addOption(drainTimeout);
    CommandSpecs.finish(spec,
        "0:stopped by SIGTERM or SIGINT, or after a take-over, in order",
        "1:failure at start (see the log)",
        "2:usage error",
        "3:another app is listening on SOCKET; it was left alone");
  }

  public static void main(String[] args) {
    System.exit(UsageErrorHandler.commandLine(new HttpApp()).execute(args));
  }

  @Override
  public CommandSpec spec() {
    return spec;
  }

  @Sharable
  private static final class HttpInitializer extends ChannelInitializer<Channel> {
    private final HelloHandler hello = new HelloHandler();
    private final int maxContent;

    HttpInitializer(int maxContent) {
      this.maxContent = maxContent;
    }

    @Override
    protected void initChannel(Channel ch) {
      pipeline(ch.pipeline(), hello, maxContent);
    }
  }

  /** One connection's pipeline; the same names on every app, as a take-over matches by name. */
  static void pipeline(ChannelPipeline p, HelloHandler hello, int maxContent) {
    HttpMoveGuard guard = new HttpMoveGuard();
    p.addLast(GUARD, guard);
    p.addLast("http-codec", new HttpServerCodec());
    p.addLast("request-boundary", guard.boundary());
    p.addLast("aggregator", new HttpObjectAggregator(maxContent));
    p.addLast("keep-alive", new HttpServerKeepAliveHandler());
    p.addLast("hello", hello);
  }

  @Override
  public Integer call() throws Exception {
    logging.apply();
    Path socket = this.socket.getValue();
    int ioThreads = this.ioThreads.getValue();
    boolean takeOver = this.takeOver.getValue();
    ShutdownSignal signal = ShutdownSignal.install();
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(Math.max(1, ioThreads),
        new DefaultThreadFactory("http", true), EpollIoHandler.newFactory());
    HandoffServer server;
    try {
      HandoffServerBootstrap bootstrap = new HandoffServerBootstrap()
          .group(group)
          .childHandler(new HttpInitializer(maxContent.getValue()))
          .childOption(ChannelOption.TCP_NODELAY, true);
      server = takeOver ? bootstrap.takeOver(socket) : bootstrap.bind(socket);
    } catch (SocketInUseException e) {
      log.error("cannot start: {}", e.getMessage());
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      return ExitCodes.SOCKET_IN_USE;
    } catch (IOException e) {
      log.error("cannot start on {}: {}", socket, e.getMessage());
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      return ExitCodes.FAILURE;
    }
    log.info("serving HTTP/1.1 on the connections handed over at {} (pid {})", socket,
        ProcessHandle.current().pid());
    server.handedOver().whenComplete((done, lost) -> {
      if (lost == null) {
        log.info("a successor took over; stopping once the connections that stayed are done");
      }
      signal.trigger();
    });
    signal.await();
    server.stopTakingHandoffs();
    int left = server.awaitDrained(drainTimeout.getValue());
    if (left > 0) {
      log.info("drain timeout reached; closing {} connections", left);
    }
    server.close();
    group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    log.info("stopped: {}", server.summary());
    return ExitCodes.OK;
  }
}
