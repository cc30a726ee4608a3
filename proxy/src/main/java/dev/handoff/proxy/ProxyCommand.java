package dev.handoff.proxy;

import dev.handoff.common.Closeables;
import dev.handoff.cli.DurationConverter;
import dev.handoff.cli.MetricsEndpoint;
import dev.handoff.common.Closeables;
import dev.handoff.proxy.accept.Cidr;
import dev.handoff.proxy.accept.SocketActivation;
import dev.handoff.proxy.link.LinkOptions;
import dev.handoff.proxy.upgrade.ControlServer;
import dev.handoff.proxy.upgrade.Reloader;
import dev.handoff.proxy.upgrade.UpgradeControl;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import dev.handoff.cli.ExitCodes;
import dev.handoff.cli.HostPortConverter;
import dev.handoff.cli.StatusSignal;
import dev.handoff.common.JdkNioInternals;
import dev.handoff.cli.LoggingOptions;
import dev.handoff.cli.ManifestVersionProvider;
import dev.handoff.cli.HangupSignal;
import dev.handoff.cli.ShutdownSignal;
import dev.handoff.cli.SocketPaths;
import dev.handoff.cli.SystemdNotify;
import dev.handoff.common.Uids;
import dev.handoff.cli.UsageErrorHandler;
import dev.handoff.proxy.config.ConfigException;
import dev.handoff.proxy.config.ConfigFile;
import dev.handoff.proxy.config.ListenerSpec;
import dev.handoff.proxy.route.PeekOptions;
import dev.handoff.proxy.route.RouteSpec;
import dev.handoff.proxy.route.RouteTable;
import dev.handoff.proxy.route.Rule;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code proxy PORT SOCKET...}: owns the public port and hands every connection to an app. */
@Command(name = "proxy", mixinStandardHelpOptions = true,
    versionProvider = ManifestVersionProvider.class,
    description = {
      "Accepts TCP connections on PORT and hands each one, as a file descriptor, to an app"
          + " listening on a unix socket SOCKET. Once the app has acknowledged it, the proxy"
          + " closes its copy: it is not in the data path.",
      "Starts in any order with the app; connections accepted while no app is linked wait in a"
          + " bounded queue.",
      "With --route, each connection goes to the app of the first route whose rule its first"
          + " bytes match (TLS server name or ALPN, HTTP Host), read with MSG_PEEK so that the"
          + " app reads every byte itself; for example: proxy 443 --route"
          + " sni:api.example.com=/run/api.sock --route default=/run/web.sock"
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:stopped by SIGTERM or SIGINT after an orderly shutdown",
      "1:failure at run time, such as the port being taken (see the log)",
      "2:usage error (bad option or argument; nothing started)",
    })
public final class ProxyCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(ProxyCommand.class);
  /** How the log says where a listening socket received from the running proxy came from. */
  private static final String RECEIVED = " (socket passed on by the running proxy)";

  @Spec CommandSpec spec;

  @Mixin LoggingOptions logging;

  @Parameters(index = "0", arity = "0..1", paramLabel = "PORT",
      description = "TCP port to accept on (1-65535). Not with --config.")
  int port;

  @Option(names = "--config", paramLabel = "FILE",
      description = "Read listeners, their routes and app sockets from this YAML file instead of"
          + " PORT, SOCKET, --bind and --route: several ports, each with routes of its own (see"
          + " the README, 'Several listeners'). The other options apply to every listener; a"
          + " listener's own peek and proxy-protocol-from settings win over --peek-* and"
          + " --proxy-protocol-from. An error names the file, line and field, and exits 2."
          + " --control and --take-over work with it as with PORT: every listening socket is"
          + " passed on.")
  Path configFile;

  /** The name of each listener, in the order of {@link #configurations()}. */
  private final List<String> listenerNames = new java.util.ArrayList<>();

  @Option(names = "--sticky",
      description = "Send each client address to the same app of its route while that app is"
          + " linked (rendezvous hashing over the linked apps; the original client's address"
          + " behind a PROXY-protocol balancer), instead of the app with the fewest unanswered"
          + " handoffs. When that app goes away its clients spread over the others; only they"
          + " move.")
  boolean sticky;

  @Option(names = "--check-config",
      description = "Check the configuration (the --config file, or PORT, SOCKET and --route)"
          + " and the options, print what would run, and exit: 0 if usable, 2 if not. Opens"
          + " nothing.")
  boolean checkConfig;

  @Parameters(index = "1..*", arity = "0..*", paramLabel = "SOCKET",
      description = "Path of an app's unix socket, at most " + SocketPaths.MAX_BYTES + " bytes."
          + " With several, connections go to the linked app with the fewest unanswered"
          + " handoffs, round robin among equals. With --route: the default route's sockets."
          + " At least one SOCKET or --route is needed.")
  List<Path> sockets = new java.util.ArrayList<>();

  @Option(names = "--route", paramLabel = "RULE=SOCKET",
      description = "Route connections that match RULE to the app at SOCKET; may be repeated."
          + " RULE is sni:NAME (TLS server name; *.example.com matches exactly one more label),"
          + " alpn:PROTO (offered among the TLS ALPN protocols), host:NAME or host:NAME/PATH (HTTP"
          + " Host, port ignored; PATH a prefix of whole path segments) or default (the same as"
          + " a positional SOCKET). Names are compared without case and trailing dot. Rules are"
          + " tried in the order given, the first match wins; unmatched connections take the"
          + " default route, or are closed if there is none. The same RULE several times: one"
          + " route over several sockets, spread as SOCKET... are. The route is picked from the"
          + " first bytes read with MSG_PEEK: the app still reads them all.")
  List<String> routes = new java.util.ArrayList<>();

  @Option(names = "--peek-max-bytes", paramLabel = "N",
      description = "With --route: the most bytes of a connection looked at to pick its route;"
          + " a ClientHello or request head that is not complete within them takes the default"
          + " route. Default: ${DEFAULT-VALUE}.")
  int peekMaxBytes = 16 * 1024;

  @Option(names = "--peek-timeout", paramLabel = "DURATION", converter = DurationConverter.class,
      defaultValue = "1s",
      description = "With --route: how long after the accept a client may take to send enough to"
          + " pick its route; then, or if it sends nothing (a protocol where the server speaks"
          + " first), it takes the default route. Default: ${DEFAULT-VALUE}.")
  Duration peekTimeout;

  @Option(names = "--peek-malformed", paramLabel = "ACTION", defaultValue = "default",
      description = "With --route: what happens to a connection whose first bytes claim to be"
          + " TLS or HTTP and break their rules: 'default' (the default route) or 'close'."
          + " Bytes of another protocol always take the default route."
          + " Default: ${DEFAULT-VALUE}.")
  String peekMalformed;

  @Option(names = "--peek-defer-accept", negatable = true, defaultValue = "true",
      fallbackValue = "true",
      description = "With --route: the kernel holds each connection until its first bytes arrive"
          + " (TCP_DEFER_ACCEPT), so that the proxy finds them at accept and routes at once,"
          + " without waiting on readiness; a client that sends nothing reaches the proxy after"
          + " about 1 s, which counts towards --peek-timeout (so it waits at least 1 s)."
          + " --no-peek-defer-accept turns it off. Default: on.")
  boolean peekDeferAccept;

  @Option(names = "--bind", paramLabel = "ADDR", defaultValue = "0.0.0.0",
      description = "Address to accept on, IPv4 or IPv6 (:: for both). Default: ${DEFAULT-VALUE}.")
  InetAddress bind;

  @Option(names = "--backlog", paramLabel = "N",
      description = "Kernel accept backlog. Default: ${DEFAULT-VALUE}.")
  int backlog = 1024;

  @Option(names = "--queue-size", paramLabel = "N",
      description = "Accepted connections that may wait for an app; when that many wait, the"
          + " proxy stops accepting (new clients wait in the kernel backlog) until there is room."
          + " Default: ${DEFAULT-VALUE}.")
  int queueSize = 4096;

  @Option(names = "--queue-wait", paramLabel = "DURATION", converter = DurationConverter.class,
      defaultValue = "10s",
      description = "How long an accepted connection may wait for an app before it is closed."
          + " Default: ${DEFAULT-VALUE}.")
  Duration queueWait;

  @Option(names = "--retry-min", paramLabel = "DURATION", converter = DurationConverter.class,
      defaultValue = "50ms",
      description = "First delay before linking to the app again, and first pause of a link"
          + " whose app answered RETRY (out of room). Default: ${DEFAULT-VALUE}.")
  Duration retryMin;

  @Option(names = "--retry-max", paramLabel = "DURATION", converter = DurationConverter.class,
      defaultValue = "2s",
      description = "Longest delay between attempts to link to the app, and longest pause of a"
          + " link whose app keeps answering RETRY (both double up to it)."
          + " Default: ${DEFAULT-VALUE}.")
  Duration retryMax;

  @Option(names = "--window", paramLabel = "N",
      description = "Handoffs that may await an app's answer on one link; a link with that many"
          + " takes no more until answers come. Default: ${DEFAULT-VALUE}.")
  int window = 256;

  @Option(names = "--ack-timeout", paramLabel = "DURATION", converter = DurationConverter.class,
      defaultValue = "30s",
      description = "How long an app may leave a handoff unanswered before the proxy closes the"
          + " link to it (the app may own those connections, so they are not sent again; the"
          + " proxy closes its copies). The app then gets one handoff at a time until it answers."
          + " Default: ${DEFAULT-VALUE}.")
  Duration ackTimeout;

  @Option(names = "--app-uid", paramLabel = "UID",
      description = "Only hand connections to apps running as this uid (SO_PEERCRED); may be"
          + " repeated. Default: the proxy's own uid and root.")
  List<Integer> appUids;

  @Option(names = "--hold-copy", paramLabel = "DURATION", converter = DurationConverter.class,
      defaultValue = "0",
      description = "Keep the proxy's copy of each handed-off socket open this long, to show with"
          + " lsof that both processes hold the same socket. For demonstrations only."
          + " Default: ${DEFAULT-VALUE}.")
  Duration holdCopy;

  @Option(names = "--shutdown-grace", paramLabel = "DURATION", converter = DurationConverter.class,
      defaultValue = "2s",
      description = "On SIGTERM or SIGINT, how long to keep handing off connections already"
          + " accepted before closing them. Default: ${DEFAULT-VALUE}.")
  Duration shutdownGrace;

  @Option(names = "--metrics", paramLabel = "ADDR:PORT", converter = HostPortConverter.class,
      description = "Serve counters and the handoff latency histogram in the Prometheus text"
          + " format at http://ADDR:PORT/metrics. Default: off.")
  InetSocketAddress metrics;

  @Option(names = "--protocol", paramLabel = "NAME", defaultValue = "handoff",
      description = "How connections are handed over: 'handoff', this project's protocol (a"
          + " header per connection, an acknowledgement back, redelivery when an app goes"
          + " away), or 'plain', one descriptor per message with a one-byte payload and the"
          + " proxy's copy closed at once, for receivers that read one descriptor per message: no"
          + " acknowledgement, no redelivery. Default: ${DEFAULT-VALUE}.")
  String protocol;

  @Option(names = "--control", paramLabel = "PATH",
      description = "Listen on this unix socket (mode 0600) for a new proxy started with"
          + " --take-over, which takes every listening socket over (the one of PORT, or each of"
          + " the --config file): an upgrade that refuses no connection. With --take-over: the"
          + " running proxy's control socket, which this proxy listens on once the running one"
          + " is done. With --control, SIGHUP starts that new proxy itself (scripts/proxy run"
          + " again with the same arguments and --take-over): a reload of the --config file"
          + " and of the jar. Default: off.")
  Path control;

  @Option(names = "--control-uid", paramLabel = "UID",
      description = "Only let a proxy of this uid take over (SO_PEERCRED); may be repeated."
          + " Default: the proxy's own uid and root.")
  List<Integer> controlUids;

  @Option(names = "--take-over",
      description = "Take over from the proxy running with --control PATH: receive its listening"
          + " sockets, accept on them, and let it finish the connections it accepted and exit 0."
          + " With PORT: PORT, --bind and --backlog are those of the one socket received. With"
          + " --config (which may have changed): each listener accepts on the received socket of"
          + " its address (ADDR:PORT, 0.0.0.0 and :: only matching themselves), a listener"
          + " without one binds its own, and a received socket no listener wants is closed: it"
          + " stops listening when the running proxy exits.")
  boolean takeOver;

  @Option(names = "--proxy-protocol-from", paramLabel = "CIDR", converter = Cidr.Converter.class,
      description = "A load balancer in this IPv4 or IPv6 range (ADDR/BITS, or one ADDR) sends a"
          + " PROXY protocol header (v1 or v2) first: the proxy reads exactly that header and"
          + " hands the connection on with the original client's address, which the app sees as"
          + " its client; a connection from it without a valid header is closed. From anywhere"
          + " else, a connection that starts with a PROXY header is refused. May be repeated."
          + " Default: off (nothing is looked at).")
  List<Cidr> proxyProtocolFrom;

  @Option(names = "--proxy-protocol-timeout", paramLabel = "DURATION",
      converter = DurationConverter.class, defaultValue = "3s",
      description = "With --proxy-protocol-from: how long a connection may take to send its first"
          + " bytes. A load balancer's connection without a whole header by then is closed;"
          + " another client's is handed on as it is (a protocol in which the server speaks first"
          + " waits this long). Default: ${DEFAULT-VALUE}.")
  Duration proxyProtocolTimeout;

  /** The command line as given, for a successor started by SIGHUP ({@link Reloader}). */
  private List<String> arguments = List.of();

  public static void main(String[] args) {
    ProxyCommand command = new ProxyCommand();
    command.arguments = List.of(args);
    System.exit(UsageErrorHandler.commandLine(command).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    List<ProxyConfig> configs = configurations();
    if (checkConfig) {
      java.io.PrintWriter out = spec.commandLine().getOut();
      for (int i = 0; i < configs.size(); i++) {
        out.println(describe(listenerNames.get(i), configs.get(i)));
      }
      out.println("configuration OK: " + configs.size()
          + (configs.size() == 1 ? " listener" : " listeners"));
      out.flush();
      return ExitCodes.OK;
    }
    logging.apply();
    return run(configs);
  }

  /** {@code --control} and {@code --take-over} for this process; at a handover, it exits 0. */
  private UpgradeControl upgradeControl(ShutdownSignal signal, Reloader reloader) {
    Set<Integer> uids = controlUids == null ? Uids.selfAndRoot() : Set.copyOf(controlUids);
    return new UpgradeControl(control, takeOver, uids, signal::trigger,
        reloader == null ? ControlServer.Links.NONE : reloader);
  }

  /** With {@code --control}: what starts a successor at SIGHUP; null without. */
  private Reloader reloader() {
    return control == null ? null
        : Reloader.forThisProcess(arguments, control.toAbsolutePath());
  }

  /**
   * SIGHUP: with a configuration file, checks it again (an unusable one is logged and nothing else
   * happens); then, with {@code --control}, starts a successor to take over, one at a time.
   */
  private void hangup(Reloader reloader, byte[] readAtStart) {
    if (reloader != null && reloader.busy()) {
      return; // logged
    }
    String found = "no configuration file to check (the same options, the jar found now)";
    if (configFile != null) {
      found = recheck(readAtStart, reloader != null);
      if (found == null) {
        return; // unusable, logged
      }
    }
    if (reloader != null) {
      reloader.reload(found);
    } else if (configFile == null) {
      log.info("SIGHUP received: nothing to reload (the proxy has no configuration file; options"
          + " are read at start; with --control PATH, SIGHUP starts a new proxy that takes over);"
          + " carrying on");
    }
  }

  /**
   * The configuration of each listener: one from PORT, SOCKET and --route, or one per listener of
   * the --config file, in its order.
   */
  private List<ProxyConfig> configurations() {
    listenerNames.clear();
    if (configFile == null) {
      listenerNames.add("default");
      if (port == 0 && sockets.isEmpty() && routes.isEmpty()) {
        throw usage("give PORT and SOCKET (or --route RULE=SOCKET), or --config FILE");
      }
      if (port < 1 || port > 65535) {
        throw usage("port " + port + " is out of range 1-65535");
      }
      RouteTable table;
      try {
        table = RouteTable.fromOptions(routes, sockets);
      } catch (IllegalArgumentException e) {
        throw usage(e.getMessage());
      }
      if (table.all().isEmpty()) {
        throw usage("no app socket: give at least one SOCKET or --route RULE=SOCKET");
      }
      return List.of(listener(bind, port, table, peekOptions(),
          proxyProtocolFrom == null ? List.of() : List.copyOf(proxyProtocolFrom), sticky));
    }
    if (port != 0 || !sockets.isEmpty() || !routes.isEmpty()) {
      throw usage("--config FILE replaces PORT, SOCKET and --route: give one or the other");
    }
    List<ListenerSpec> specs;
    try {
      specs = ConfigFile.load(configFile);
    } catch (ConfigException e) {
      throw usage(e.getMessage());
    }
    PeekOptions defaults = peekOptions();
    List<ProxyConfig> configs = new java.util.ArrayList<>();
    for (ListenerSpec spec : specs) {
      listenerNames.add(spec.name());
      PeekOptions peek = new PeekOptions(
          spec.peekMaxBytes() > 0 ? spec.peekMaxBytes() : defaults.maxBytes(),
          spec.peekTimeout() != null ? spec.peekTimeout() : defaults.timeout(),
          spec.closeMalformed() != null ? spec.closeMalformed() : defaults.closeMalformed(),
          spec.deferAccept() != null ? spec.deferAccept() : defaults.deferAccept());
      List<Cidr> trusted = proxyProtocolFrom == null ? List.of() : List.copyOf(proxyProtocolFrom);
      if (!spec.proxyProtocolFrom().isEmpty()) {
        trusted = spec.proxyProtocolFrom().stream().map(Cidr::parse).toList();
      }
      configs.add(listener(spec.address().getAddress(), spec.address().getPort(), spec.routes(),
          peek, trusted, spec.sticky() != null ? spec.sticky() : sticky));
    }
    return configs;
  }

  /** One line on what a listener would do, for --check-config and the log. */
  private static String describe(String name, ProxyConfig c) {
    String host = c.listen().bind().getHostAddress();
    StringBuilder line = new StringBuilder("listener ").append(name).append(" on ")
        .append(host.contains(":") ? "[" + host + "]" : host).append(':').append(c.listen().port())
        .append(':');
    for (RouteSpec route : c.routes().all()) {
      boolean named = route.rule().kind() != Rule.Kind.DEFAULT
          && !route.name().equals(route.rule().text());
      line.append(' ').append(route.name()).append(named ? " (" + route.rule() + ")" : "")
          .append(" -> ").append(route.sockets());
      line.append(';');
    }
    if (c.routes().fallback() == null) {
      line.append(" what no route matches is closed;");
    }
    if (c.proxyProtocol().on()) {
      line.append(" PROXY protocol from ").append(c.proxyProtocol().trusted()).append(';');
    }
    line.setLength(line.length() - 1);
    return line.toString();
  }

  /**
   * Runs the listeners until SIGTERM or SIGINT: a {@link ProxyServer} each, their meters in one
   * registry (with a {@code listener} label when they come from a configuration file), served on
   * one endpoint. One listener from PORT is the case of one; only it may be passed in by systemd,
   * and one socket received from a running proxy is taken whatever its address.
   */
  private int run(List<ProxyConfig> configs) throws Exception {
    JdkNioInternals.requireAvailable();
    if (takeOver || control != null) {
      // The new proxy wraps the sockets it is passed; the old one wraps its kept copies again if
      // the new one goes away: check now, not in the middle of an upgrade.
      JdkNioInternals.requireServerSocketChannels();
    }
    ShutdownSignal signal = ShutdownSignal.install();
    byte[] readAtStart = configFile == null ? null : java.nio.file.Files.readAllBytes(configFile);
    Reloader reloader = reloader();
    HangupSignal.install(() -> hangup(reloader, readAtStart));
    if (configs.stream().anyMatch(c -> c.routes().needsPeek())) {
      dev.handoff.proxy.route.MsgPeek.requireAvailable();
    }
    PrometheusMeterRegistry shared = MetricsEndpoint.registry();
    List<ProxyServer> servers = new java.util.ArrayList<>();
    UpgradeControl upgrade = upgradeControl(signal, reloader);
    List<ServerSocketChannel> received = List.of();
    MetricsEndpoint endpoint = null;
    String starting = "cannot start";
    try {
      List<ProxyServer> created = new java.util.ArrayList<>();
      for (int i = 0; i < configs.size(); i++) {
        created.add(new ProxyServer(configs.get(i), registryOf(i, shared)));
      }
      received = upgrade.prepare(created, configFile == null);
      for (int i = 0; i < configs.size(); i++) {
        if (configFile != null) {
          starting = "cannot start listener " + listenerNames.get(i);
        }
        if (received.get(i) != null) {
          created.get(i).start(received.get(i), RECEIVED);
        } else {
          // Binds afresh when systemd passed nothing (it passes one socket, for PORT only).
          created.get(i).start(configFile == null ? SocketActivation.listener() : null);
        }
        servers.add(created.get(i));
        if (configFile != null) {
          log.info("{}", describe(listenerNames.get(i), configs.get(i)));
        }
      }
      starting = "cannot serve the metrics";
      if (metrics != null) {
        endpoint = MetricsEndpoint.start(metrics, shared);
      }
    } catch (java.io.IOException | RuntimeException e) {
      log.error("{}: {}", starting, e.getMessage());
      // The received sockets of the listeners not started; a started one closes its own.
      for (int i = servers.size(); i < received.size(); i++) {
        Closeables.closeQuietly(received.get(i));
      }
      upgrade.close(); // the running proxy, if any, never stopped accepting
      stopAll(servers);
      return ExitCodes.FAILURE;
    }
    upgrade.started();
    SystemdNotify.ready(configFile == null ? "accepting on port " + port
        : "accepting on " + configs.size() + " listeners");
    StatusSignal.install(() -> {
      for (int i = 0; i < servers.size(); i++) {
        log.info("{}", configFile == null ? servers.get(i).status()
            : listenerNames.get(i) + ": " + servers.get(i).status());
      }
    });
    signal.await();
    if (!upgrade.handedOver()) {
      SystemdNotify.stopping(); // after a handover, systemd's main process is the new proxy
    }
    upgrade.close();
    stopAll(servers);
    if (endpoint != null) {
      endpoint.close();
    }
    return ExitCodes.OK;
  }

  /**
   * Where listener {@code i} counts: the shared registry itself for PORT, a view of it that
   * labels every meter with the listener's name for the listeners of a configuration file.
   */
  private MeterRegistry registryOf(int i, PrometheusMeterRegistry shared) {
    if (configFile == null) {
      return shared;
    }
    CompositeMeterRegistry view = new CompositeMeterRegistry();
    view.config().commonTags("listener", listenerNames.get(i));
    view.add(shared);
    return view;
  }

  /** Stops every listener at once, each with its own grace period, and waits for them all. */
  private static void stopAll(List<ProxyServer> servers) throws InterruptedException {
    List<Thread> stopping = new java.util.ArrayList<>();
    for (ProxyServer server : servers) {
      Thread t = new Thread(() -> {
        try {
          server.stop();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }, "stop");
      t.start();
      stopping.add(t);
    }
    for (Thread t : stopping) {
      t.join();
    }
  }

  /**
   * SIGHUP with a configuration file: checks it again. Without {@code --control}, logs what a
   * restart would change and returns null; with it, returns what was found, for the reload's log
   * line. An unusable file is logged and gives null.
   */
  private String recheck(byte[] readAtStart, boolean reloading) {
    try {
      ConfigFile.load(configFile);
      byte[] now = java.nio.file.Files.readAllBytes(configFile);
      boolean same = java.util.Arrays.equals(now, readAtStart);
      if (reloading) {
        return configFile + (same ? " is unchanged" : " has changed") + " and is valid";
      }
      if (same) {
        log.info("SIGHUP received: {} is unchanged; carrying on (with --control PATH, SIGHUP"
            + " starts a new proxy that takes over)", configFile);
      } else {
        log.warn("SIGHUP received: {} has changed and is valid; it applies at the next start or"
            + " --take-over (with --control PATH, SIGHUP starts a new proxy that takes over);"
            + " carrying on as configured", configFile);
      }
    } catch (ConfigException | java.io.IOException e) {
      log.warn("SIGHUP received: {} is not usable now: {}; carrying on as configured{}",
          configFile, e.getMessage(), reloading ? ", no new proxy started" : "");
    }
    return null;
  }

  private PeekOptions peekOptions() {
    if (peekMaxBytes < 64 || peekMaxBytes > 1 << 20) {
      throw usage("--peek-max-bytes must be between 64 and 1048576");
    }
    if (peekTimeout.isZero()) {
      throw usage("--peek-timeout must be more than 0");
    }
    if (!peekMalformed.equals("default") && !peekMalformed.equals("close")) {
      throw usage("--peek-malformed '" + peekMalformed + "' is neither 'default' nor 'close'");
    }
    return new PeekOptions(peekMaxBytes, peekTimeout, peekMalformed.equals("close"),
        peekDeferAccept);
  }

  /** Checks the options and one listener's routes, and makes its configuration. */
  private ProxyConfig listener(InetAddress address, int listenPort, RouteTable table,
      PeekOptions peek, List<Cidr> trusted, boolean stickyListener) {
    if (window < 1) {
      throw usage("--window must be at least 1");
    }
    if (backlog < 1) {
      throw usage("--backlog must be at least 1");
    }
    if (queueSize < 1) {
      throw usage("--queue-size must be at least 1");
    }
    if (!protocol.equals("handoff") && !protocol.equals("plain")) {
      throw usage("--protocol '" + protocol + "' is neither 'handoff' nor 'plain'");
    }
    for (RouteSpec route : table.all()) {
      for (Path socket : route.sockets()) {
        String problem = SocketPaths.problem(socket, false);
        if (problem != null) {
          throw usage(route.name().equals("default") ? problem
              : "--route " + route.name() + ": " + problem);
        }
      }
    }
    if (table.needsPeek() && protocol.equals("plain")) {
      throw usage("--route needs --protocol handoff: a plain handoff has no routes");
    }
    if (takeOver && control == null) {
      throw usage("--take-over needs --control PATH, the running proxy's control socket");
    }
    if (control != null) {
      String problem = SocketPaths.problem(control, true);
      if (problem != null) {
        throw usage("--control: " + problem);
      }
    }
    if (retryMin.isZero()) {
      throw usage("--retry-min must be more than 0");
    }
    List<RouteSpec> absoluteRoutes = new java.util.ArrayList<>();
    for (RouteSpec route : table.routes()) {
      absoluteRoutes.add(new RouteSpec(route.name(), route.rule(), absolute(route.sockets())));
    }
    List<Path> absolute = table.fallback() == null ? List.of()
        : absolute(table.fallback().sockets());
    RouteTable absoluteTable = new RouteTable(absoluteRoutes, absolute.isEmpty() ? null
        : new RouteSpec("default", table.fallback().rule(), absolute));
    Set<Integer> uids = appUids == null ? Uids.selfAndRoot() : Set.copyOf(appUids);
    if (proxyProtocolTimeout.isZero() || proxyProtocolTimeout.isNegative()) {
      throw usage("--proxy-protocol-timeout must be more than 0");
    }
    return new ProxyConfig(new ProxyConfig.Listen(address, listenPort, backlog),
        new ProxyConfig.ProxyProtocolFrom(trusted, proxyProtocolTimeout), absoluteTable, peek,
        new LinkOptions(queueSize, queueWait, holdCopy, retryMin, retryMax, window, ackTimeout,
            uids, stickyListener),
        protocol.equals("plain"), shutdownGrace);
  }

  private static List<Path> absolute(List<Path> sockets) {
    return sockets.stream().map(Path::toAbsolutePath).distinct().toList();
  }

  private ParameterException usage(String message) {
    return new ParameterException(spec.commandLine(), message);
  }
}
