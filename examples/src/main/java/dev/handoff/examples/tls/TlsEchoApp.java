package dev.handoff.examples.tls;

import dev.handoff.cli.ExitCodes;
import dev.handoff.cli.CliCommand;
import dev.handoff.cli.CommandSpecs;
import dev.handoff.cli.LoggingOptions;
import dev.handoff.cli.ShutdownSignal;
import dev.handoff.cli.UsageErrorHandler;
import dev.handoff.server.HandoffServer;
import dev.handoff.server.HandoffServerBootstrap;
import dev.handoff.server.SocketInUseException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * {@code tls-example SOCKET --cert FILE --key FILE}: a TLS server on Netty's {@link SslHandler},
 * serving the connections a {@code proxy} hands over on SOCKET, so that each app completes the TLS
 * handshake itself, the ClientHello included, behind a proxy that routed the connection by its
 * server name or ALPN. Built on the public API of handoff-server only.
 *
 * <p>It answers the first data of a connection and closes it: an HTTP request gets a 200 whose
 * body names this app, the server name and the ALPN protocol; anything else gets the same line
 * followed by the data. The connection's channel (and so its descriptor) is Netty's.
 */
public final class TlsEchoApp implements CliCommand {
  private static final Logger log = LoggerFactory.getLogger(TlsEchoApp.class);

  private final CommandSpec spec = CommandSpecs.command("tls-example", this,
      "A TLS server behind proxy: listens on the unix socket SOCKET for proxies, completes the"
          + " TLS handshake of each connection they hand over, and answers its first data with"
          + " a line 'NAME sni=SERVER-NAME alpn=PROTOCOL' (in an HTTP 200 for an HTTP request,"
          + " else followed by the data), then closes the connection.");

  private final LoggingOptions logging = new LoggingOptions().addTo(spec);

  private final PositionalParamSpec socket = PositionalParamSpec.builder().index("0")
      .paramLabel("SOCKET").type(Path.class).description("Path of the unix socket.").build();

  private final OptionSpec cert = OptionSpec.builder("--cert").paramLabel("FILE")
      .type(Path.class).required(true).description("Certificate chain, PEM.").build();

  private final OptionSpec key = OptionSpec.builder("--key").paramLabel("FILE")
      .type(Path.class).required(true)
      .description("Private key of the certificate, PKCS#8 PEM, unencrypted.").build();

  private final OptionSpec name = OptionSpec.builder("--name").paramLabel("NAME")
      .type(String.class).defaultValue("tls-example")
      .description("Name this app answers with. Default: ${DEFAULT-VALUE}.").build();

  private final OptionSpec alpn = OptionSpec.builder("--alpn").paramLabel("PROTO")
      .type(List.class).auxiliaryTypes(String.class).splitRegex(",")
      .description("ALPN protocols to accept, in order of preference (comma separated)."
          + " Default: none (no ALPN).")
      .build();

  {
    spec.addPositional(socket);
    spec.addOption(cert).addOption(key).addOption(name).addOption(alpn);
    CommandSpecs.finish(spec,
        "0:stopped by SIGTERM or SIGINT",
        "1:failure at start (see the log)",
        "2:usage error",
        "3:another app is listening on SOCKET; it was left alone");
  }

  public static void main(String[] args) {
    System.exit(UsageErrorHandler.commandLine(new TlsEchoApp()).execute(args));
  }

  @Override
  public CommandSpec spec() {
    return spec;
  }

  /** Answers the first data on a connection, then closes it. */
  private static final class Answer extends ChannelInboundHandlerAdapter {
    private final String name;

    Answer(String name) {
      this.name = name;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ByteBuf data = (ByteBuf) msg;
      try {
        SslHandler ssl = ctx.pipeline().get(SslHandler.class);
        String line = name + " sni=" + serverName(ssl) + " alpn=" + ssl.applicationProtocol()
            + "\n";
        String text = data.toString(StandardCharsets.ISO_8859_1);
        ByteBuf reply;
        if (text.matches("(?s)^(GET|HEAD|POST|PUT) .*")) {
          byte[] body = line.getBytes(StandardCharsets.US_ASCII);
          reply = Unpooled.copiedBuffer("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
              + "Content-Length: " + body.length + "\r\nConnection: close\r\n\r\n" + line,
              StandardCharsets.US_ASCII);
        } else {
          reply = Unpooled.copiedBuffer(line + text, StandardCharsets.ISO_8859_1);
        }
        log.debug("{}: answered as {}", ctx.channel(), line.trim());
        ctx.writeAndFlush(reply).addListener(ChannelFutureListener.CLOSE);
      } finally {
        data.release();
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      log.debug("{}: {}", ctx.channel(), cause.toString());
      ctx.close();
    }
  }

  private static String serverName(SslHandler ssl) {
    if (ssl.engine().getSession() instanceof ExtendedSSLSession session) {
      for (SNIServerName n : session.getRequestedServerNames()) {
        if (n instanceof SNIHostName host) {
          return host.getAsciiName();
        }
      }
    }
    return "none";
  }

  @Override
  public Integer call() throws Exception {
    logging.apply();
    Path socket = this.socket.getValue();
    String name = this.name.getValue();
    List<String> alpn = this.alpn.getValue() == null ? List.of() : this.alpn.getValue();
    Path cert = this.cert.getValue();
    Path key = this.key.getValue();
    SslContextBuilder builder = SslContextBuilder.forServer(cert.toFile(), key.toFile())
        .sslProvider(SslProvider.JDK);
    if (!alpn.isEmpty()) {
      builder.applicationProtocolConfig(new ApplicationProtocolConfig(
          ApplicationProtocolConfig.Protocol.ALPN,
          ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
          ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, alpn));
    }
    SslContext context;
    try {
      context = builder.build();
    } catch (IOException | RuntimeException e) {
      log.error("cannot read the certificate or key: {}", e.getMessage());
      return ExitCodes.FAILURE;
    }
    ShutdownSignal signal = ShutdownSignal.install();
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1,
        new DefaultThreadFactory("tls", true), EpollIoHandler.newFactory());
    HandoffServer server;
    try {
      server = new HandoffServerBootstrap()
          .group(group)
          .childHandler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
              ch.pipeline().addLast("tls", context.newHandler(ch.alloc()));
              ch.pipeline().addLast("answer", new Answer(name));
            }
          })
          .bind(socket);
    } catch (SocketInUseException e) {
      log.error("cannot start: {}", e.getMessage());
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      return ExitCodes.SOCKET_IN_USE;
    } catch (IOException e) {
      log.error("cannot start on {}: {}", socket, e.getMessage());
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      return ExitCodes.FAILURE;
    }
    log.info("serving TLS as {} on the connections handed over at {} (pid {})", name, socket,
        ProcessHandle.current().pid());
    signal.await();
    server.stopTakingHandoffs();
    server.awaitDrained(java.time.Duration.ofSeconds(2));
    server.close();
    group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    log.info("stopped: {}", server.summary());
    return ExitCodes.OK;
  }
}
