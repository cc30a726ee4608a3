package dev.handoff.app;

import dev.handoff.cli.CliCommand;
import dev.handoff.cli.CommandArgs;
import dev.handoff.cli.CommandSpecs;
import dev.handoff.cli.ExitCodes;
import dev.handoff.cli.HostPortConverter;
import dev.handoff.cli.StatusSignal;
import dev.handoff.cli.LoggingOptions;
import dev.handoff.cli.HangupSignal;
import dev.handoff.cli.ShutdownSignal;
import dev.handoff.cli.SystemdNotify;
import dev.handoff.cli.UsageErrorHandler;
import dev.handoff.cli.SocketPaths;
import dev.handoff.server.HandoffServerBootstrap;
import dev.handoff.server.SocketInUseException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.ParameterException;

/**
 * {@code app SOCKET}: receives connections from proxies and echoes every byte. Its command line is
 * declared with picocli's builders ({@link CommandSpecs}); each option is read where it is used.
 */
public final class AppCommand implements CliCommand {
  /**
   * Logging and the transport, set up on a thread of their own while picocli reads the command
   * line ({@link Preload}); nothing here logs before {@link Preload#awaitLogging}, so this class
   * has no static logger, whose creation would set logback up before {@code main} begins.
   */
  private final Preload preload;

  private final CommandSpec spec = CommandSpecs.command("app", this,
      "Listens on the unix socket SOCKET for proxies, receives TCP connections from them as file"
          + " descriptors, and serves each client directly: every byte is echoed back.",
      "Connections already received stay open when a proxy goes away.");

  private final LoggingOptions logging = new LoggingOptions().addTo(spec);

  private final CommandArgs args = new CommandArgs();

  final PositionalParamSpec socket = args.positional(PositionalParamSpec.builder().index("0")
      .paramLabel("SOCKET").type(Path.class)
      .description("Path of the unix socket to create, at most " + SocketPaths.MAX_BYTES
          + " bytes. A stale socket file there is replaced; a live one is never taken over."));

  final OptionSpec socketMode = args.option(OptionSpec.builder("--socket-mode").paramLabel("MODE")
      .type(String.class).initialValue("0600")
      .description("Permissions of the socket file, octal; a proxy needs write permission to"
          + " connect. Default: ${DEFAULT-VALUE}."));

  final OptionSpec allowUids = args.option(OptionSpec.builder("--allow-uid").paramLabel("UID")
      .type(List.class).auxiliaryTypes(Integer.class)
      .description("Accept proxy links only from processes running as this uid (SO_PEERCRED);"
          + " may be repeated. Default: the app's own uid and root."));

  final OptionSpec maxLinks = args.option(OptionSpec.builder("--max-links").paramLabel("N")
      .type(int.class).initialValue(64)
      .description("Proxy links served at once; more are refused. Default: ${DEFAULT-VALUE}."));

  final OptionSpec ioThreads = args.option(OptionSpec.builder("--io-threads").paramLabel("N")
      .type(int.class).initialValue(Runtime.getRuntime().availableProcessors())
      .description("Threads serving connections (epoll event loops). Default: the number of"
          + " processors."));

  final OptionSpec maxUnsent = args.option(OptionSpec.builder("--max-unsent").paramLabel("BYTES")
      .type(int.class).initialValue(256 * 1024)
      .description("Echo bytes held for a client that does not read; beyond it the app stops"
          + " reading from that client until it catches up. Default: ${DEFAULT-VALUE}."));

  final OptionSpec drainTimeout = args.option(CommandSpecs.duration("--drain-timeout")
      .defaultValue("5s")
      .description("On SIGTERM or SIGINT, how long open connections may go on before they are"
          + " closed. Default: ${DEFAULT-VALUE}."));

  final OptionSpec directPort = args.option(OptionSpec.builder("--direct-port").paramLabel("PORT")
      .type(int.class).initialValue(0)
      .description("Also accept TCP connections on this port of 0.0.0.0 and serve them with the"
          + " same engine, no proxy involved: the baseline for benchmarks. 0 turns it off."
          + " Default: ${DEFAULT-VALUE}."));

  final OptionSpec maxConnections = args.option(OptionSpec.builder("--max-connections")
      .paramLabel("N").type(Integer.class)
      .description("Connections served at once; further handoffs are answered RETRY, so the"
          + " proxy keeps them until there is room. Default: the open-file limit less "
          + HandoffServerBootstrap.DESCRIPTOR_RESERVE
          + " (kept for the JVM, links and descriptors in transit)."));

  final OptionSpec metrics = args.option(OptionSpec.builder("--metrics").paramLabel("ADDR:PORT")
      .type(InetSocketAddress.class).converters(new HostPortConverter())
      .description("Serve counters, live connections and the handoff latency histogram in the"
          + " Prometheus text format at http://ADDR:PORT/metrics. Default: off."));

  final OptionSpec takeOver = args.option(OptionSpec.builder("--take-over")
      .type(boolean.class).initialValue(false)
      .description("Take over from the app running at SOCKET without dropping a connection:"
          + " it stops taking handoffs and frees the path, this app binds it, and every"
          + " established connection moves here with the bytes not yet echoed; then the old app"
          + " exits 0. Fails (status 1) if no app runs at SOCKET."));

  final OptionSpec takeOverTimeout = args.option(CommandSpecs.duration("--take-over-timeout")
      .defaultValue("10s")
      .description("When a successor takes over from this app: how long this app waits on it at"
          + " each step before it rolls the take-over back and serves everything on (until the"
          + " successor has bound SOCKET and is ready, then between its answers while the"
          + " connections move). A long move that keeps going is not cut short."
          + " Default: ${DEFAULT-VALUE}."));

  final OptionSpec readyCommand = args.option(OptionSpec.builder("--ready-command")
      .paramLabel("CMD")
      .type(String.class)
      .description("With --take-over: once this app has bound SOCKET, run CMD (with /bin/sh -c,"
          + " its output logged) and let the old app move its connections only if CMD exits 0;"
          + " otherwise, or if CMD has not ended within the old app's --take-over-timeout, the"
          + " take-over is rolled back, the old app serves on and this app exits 1."
          + " Default: ready as soon as SOCKET is bound."));

  final OptionSpec noPlain = args.option(OptionSpec.builder("--no-plain")
      .type(boolean.class).initialValue(false)
      .description("Refuse links from plain descriptor senders (programs that pass one"
          + " descriptor per message with a small payload and read no answers, such as a Go"
          + " WriteMsgUnix or runc's SendFd). By default such a link is served without"
          + " acknowledgements."));

  {
    args.addTo(spec);
    CommandSpecs.finish(spec,
        "0:stopped by SIGTERM or SIGINT after an orderly shutdown",
        "1:failure at run time, such as SOCKET being a regular file (see the log)",
        "2:usage error (bad option or argument; nothing started)",
        "3:another app is listening on SOCKET; it was left alone");
  }

  /** A command whose logging is set up when it first logs (tests). */
  public AppCommand() {
    this(Preload.NONE);
  }

  private AppCommand(Preload preload) {
    this.preload = preload;
  }

  public static void main(String[] args) {
    Preload preload = Preload.begin();
    System.exit(UsageErrorHandler.commandLine(new AppCommand(preload)).execute(args));
  }

  @Override
  public CommandSpec spec() {
    return spec;
  }

  @Override
  public Integer call() throws Exception {
    AppConfig config = validate();
    preload.awaitLogging();
    logging.apply();
    Logger log = LoggerFactory.getLogger(AppCommand.class);
    boolean takeOver = this.takeOver.getValue();
    if (takeOver) {
      log.info("starting: taking over from the app at {}", config.socket());
    }
    ShutdownSignal signal = ShutdownSignal.install();
    HangupSignal.install(() -> log.info("SIGHUP received: nothing to reload; carrying on"));
    EchoApp app = new EchoApp(config);
    try {
      app.start(takeOver);
    } catch (SocketInUseException e) {
      log.error("cannot start: {}", e.getMessage());
      return ExitCodes.SOCKET_IN_USE;
    } catch (IOException e) {
      log.error("cannot start on {}: {}", config.socket(), e.getMessage());
      return ExitCodes.FAILURE;
    }
    SystemdNotify.ready("taking handoffs on " + config.socket());
    StatusSignal.install(() -> log.info("status: {}", app.summary()));
    app.handedOver().whenComplete((done, lost) -> signal.trigger());
    signal.await();
    SystemdNotify.stopping();
    app.stop();
    return ExitCodes.OK;
  }

  private AppConfig validate() {
    Path socket = this.socket.getValue();
    int maxLinks = this.maxLinks.getValue();
    int ioThreads = this.ioThreads.getValue();
    int maxUnsent = this.maxUnsent.getValue();
    Integer maxConnections = this.maxConnections.getValue();
    Duration takeOverTimeout = this.takeOverTimeout.getValue();
    String readyCommand = this.readyCommand.getValue();
    int directPort = this.directPort.getValue();
    List<Integer> allowUids = this.allowUids.getValue();
    String problem = SocketPaths.problem(socket, true);
    if (problem != null) {
      throw usage(problem);
    }
    if (maxLinks < 1 || ioThreads < 1 || maxUnsent < 1024) {
      throw usage("--max-links and --io-threads must be at least 1, --max-unsent at least 1024");
    }
    if (maxConnections != null && maxConnections < 1) {
      throw usage("--max-connections must be at least 1");
    }
    if (takeOverTimeout.isZero()) {
      throw usage("--take-over-timeout must be more than 0");
    }
    if (readyCommand != null && !(boolean) takeOver.getValue()) {
      throw usage("--ready-command applies with --take-over only");
    }
    if (directPort < 0 || directPort > 65535) {
      throw usage("--direct-port " + directPort + " is out of range 0-65535");
    }
    return new AppConfig(socket.toAbsolutePath(), parseMode(socketMode.getValue()), maxLinks,
        ioThreads, maxUnsent, drainTimeout.getValue(), directPort,
        allowUids == null ? HandoffServerBootstrap.defaultAllowedUids() : Set.copyOf(allowUids),
        maxConnections != null ? maxConnections : HandoffServerBootstrap.defaultMaxConnections(),
        metrics.getValue(), !(boolean) noPlain.getValue(), takeOverTimeout, readyCommand);
  }

  private Set<PosixFilePermission> parseMode(String octal) {
    if (!octal.matches("0?[0-7]{3}")) {
      throw usage("--socket-mode '" + octal + "' is not an octal mode such as 0660");
    }
    int bits = Integer.parseInt(octal, 8);
    StringBuilder rwx = new StringBuilder();
    for (int shift = 6; shift >= 0; shift -= 3) {
      int part = (bits >> shift) & 7;
      rwx.append((part & 4) != 0 ? 'r' : '-').append((part & 2) != 0 ? 'w' : '-')
          .append((part & 1) != 0 ? 'x' : '-');
    }
    return PosixFilePermissions.fromString(rwx.toString());
  }

  private ParameterException usage(String message) {
    return new ParameterException(spec.commandLine(), message);
  }
}
