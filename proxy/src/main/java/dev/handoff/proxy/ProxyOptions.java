package dev.handoff.proxy;

import dev.handoff.cli.CommandArgs;
import dev.handoff.cli.CommandSpecs;
import dev.handoff.cli.HostPortConverter;
import dev.handoff.cli.SocketPaths;
import dev.handoff.common.Uids;
import dev.handoff.proxy.accept.Cidr;
import dev.handoff.proxy.config.ConfigException;
import dev.handoff.proxy.config.ConfigFile;
import dev.handoff.proxy.config.ListenerSpec;
import dev.handoff.proxy.link.LinkOptions;
import dev.handoff.proxy.route.PeekOptions;
import dev.handoff.proxy.route.RouteSpec;
import dev.handoff.proxy.route.RouteTable;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.ParameterException;

/**
 * The proxy's options and arguments, and the one mapping from them (and the {@code --config}
 * file) to a {@link ProxyConfig} per listener. Every check of an option is here; a failed one is a
 * usage error (exit 2) naming the option.
 */
final class ProxyOptions {
  private final CommandArgs args = new CommandArgs();

  /** The proxy command's model, which holds them once {@link #addTo} has run. */
  private CommandSpec command;

  final PositionalParamSpec port = args.positional(PositionalParamSpec.builder().index("0")
      .arity("0..1")
      .paramLabel("PORT").type(int.class).initialValue(0)
      .description("TCP port to accept on (1-65535). Not with --config."));

  final OptionSpec configFile = args.option(OptionSpec.builder("--config").paramLabel("FILE")
      .type(Path.class)
      .description("Read listeners, their routes and app sockets from this YAML file instead of"
          + " PORT, SOCKET, --bind and --route: several ports, each with routes of its own (see"
          + " the README, 'Several listeners'). The other options apply to every listener; a"
          + " listener's own peek and proxy-protocol-from settings win over --peek-* and"
          + " --proxy-protocol-from. An error names the file, line and field, and exits 2."
          + " --control and --take-over work with it as with PORT: every listening socket is"
          + " passed on."));

  final OptionSpec sticky = args.option(OptionSpec.builder("--sticky").type(boolean.class)
      .initialValue(false)
      .description("Send each client address to the same app of its route while that app is"
          + " linked (rendezvous hashing over the linked apps; the original client's address"
          + " behind a PROXY-protocol balancer), instead of the app with the fewest unanswered"
          + " handoffs. When that app goes away its clients spread over the others; only they"
          + " move."));

  final OptionSpec checkConfig = args.option(OptionSpec.builder("--check-config")
      .type(boolean.class)
      .initialValue(false)
      .description("Check the configuration (the --config file, or PORT, SOCKET and --route)"
          + " and the options, print what would run, and exit: 0 if usable, 2 if not. Opens"
          + " nothing."));

  final PositionalParamSpec sockets = args.positional(PositionalParamSpec.builder().index("1..*")
      .arity("0..*").paramLabel("SOCKET").type(List.class).auxiliaryTypes(Path.class)
      .description("Path of an app's unix socket, at most " + SocketPaths.MAX_BYTES + " bytes."
          + " With several, connections go to the linked app with the fewest unanswered"
          + " handoffs, round robin among equals. With --route: the default route's sockets."
          + " At least one SOCKET or --route is needed."));

  final OptionSpec routes = args.option(OptionSpec.builder("--route").paramLabel("RULE=SOCKET")
      .type(List.class).auxiliaryTypes(String.class)
      .description("Route connections that match RULE to the app at SOCKET; may be repeated."
          + " RULE is sni:NAME (TLS server name; *.example.com matches exactly one more label),"
          + " alpn:PROTO (offered among the TLS ALPN protocols), host:NAME or host:NAME/PATH (HTTP"
          + " Host, port ignored; PATH a prefix of whole path segments) or default (the same as"
          + " a positional SOCKET). Names are compared without case and trailing dot. Rules are"
          + " tried in the order given, the first match wins; unmatched connections take the"
          + " default route, or are closed if there is none. The same RULE several times: one"
          + " route over several sockets, spread as SOCKET... are. The route is picked from the"
          + " first bytes read with MSG_PEEK: the app still reads them all."));

  final OptionSpec peekMaxBytes = args.option(OptionSpec.builder("--peek-max-bytes").paramLabel("N")
      .type(int.class).initialValue(16 * 1024)
      .description("With --route: the most bytes of a connection looked at to pick its route;"
          + " a ClientHello or request head that is not complete within them takes the default"
          + " route. Default: ${DEFAULT-VALUE}."));

  final OptionSpec peekTimeout = args.option(CommandSpecs.duration("--peek-timeout")
      .defaultValue("1s")
      .description("With --route: how long after the accept a client may take to send enough to"
          + " pick its route; then, or if it sends nothing (a protocol where the server speaks"
          + " first), it takes the default route. Default: ${DEFAULT-VALUE}."));

  final OptionSpec peekMalformed = args.option(OptionSpec.builder("--peek-malformed")
      .paramLabel("ACTION").type(String.class).defaultValue("default")
      .description("With --route: what happens to a connection whose first bytes claim to be"
          + " TLS or HTTP and break their rules: 'default' (the default route) or 'close'."
          + " Bytes of another protocol always take the default route."
          + " Default: ${DEFAULT-VALUE}."));

  final OptionSpec peekDeferAccept = args.option(OptionSpec.builder("--peek-defer-accept")
      .type(boolean.class).negatable(true).defaultValue("true").fallbackValue("true")
      .description("With --route: the kernel holds each connection until its first bytes arrive"
          + " (TCP_DEFER_ACCEPT), so that the proxy finds them at accept and routes at once,"
          + " without waiting on readiness; a client that sends nothing reaches the proxy after"
          + " about 1 s, which counts towards --peek-timeout (so it waits at least 1 s)."
          + " --no-peek-defer-accept turns it off. Default: on."));

  final OptionSpec bind = args.option(OptionSpec.builder("--bind").paramLabel("ADDR")
      .type(InetAddress.class).defaultValue("0.0.0.0")
      .description("Address to accept on, IPv4 or IPv6 (:: for both). Default: ${DEFAULT-VALUE}."));

  final OptionSpec backlog = args.option(OptionSpec.builder("--backlog").paramLabel("N")
      .type(int.class)
      .initialValue(1024)
      .description("Kernel accept backlog. Default: ${DEFAULT-VALUE}."));

  final OptionSpec queueSize = args.option(OptionSpec.builder("--queue-size").paramLabel("N")
      .type(int.class).initialValue(4096)
      .description("Accepted connections that may wait for an app; when that many wait, the"
          + " proxy stops accepting (new clients wait in the kernel backlog) until there is room."
          + " Default: ${DEFAULT-VALUE}."));

  final OptionSpec queueWait = args.option(CommandSpecs.duration("--queue-wait").defaultValue("10s")
      .description("How long an accepted connection may wait for an app before it is closed."
          + " Default: ${DEFAULT-VALUE}."));

  final OptionSpec retryMin = args.option(CommandSpecs.duration("--retry-min").defaultValue("50ms")
      .description("First delay before linking to the app again, and first pause of a link"
          + " whose app answered RETRY (out of room). Default: ${DEFAULT-VALUE}."));

  final OptionSpec retryMax = args.option(CommandSpecs.duration("--retry-max").defaultValue("2s")
      .description("Longest delay between attempts to link to the app, and longest pause of a"
          + " link whose app keeps answering RETRY (both double up to it)."
          + " Default: ${DEFAULT-VALUE}."));

  final OptionSpec window = args.option(OptionSpec.builder("--window").paramLabel("N")
      .type(int.class)
      .initialValue(256)
      .description("Handoffs that may await an app's answer on one link; a link with that many"
          + " takes no more until answers come. Default: ${DEFAULT-VALUE}."));

  final OptionSpec ackTimeout = args.option(CommandSpecs.duration("--ack-timeout")
      .defaultValue("30s")
      .description("How long an app may leave a handoff unanswered before the proxy closes the"
          + " link to it (the app may own those connections, so they are not sent again; the"
          + " proxy closes its copies). The app then gets one handoff at a time until it answers."
          + " Default: ${DEFAULT-VALUE}."));

  final OptionSpec appUids = args.option(OptionSpec.builder("--app-uid").paramLabel("UID")
      .type(List.class).auxiliaryTypes(Integer.class)
      .description("Only hand connections to apps running as this uid (SO_PEERCRED); may be"
          + " repeated. Default: the proxy's own uid and root."));

  final OptionSpec holdCopy = args.option(CommandSpecs.duration("--hold-copy").defaultValue("0")
      .description("Keep the proxy's copy of each handed-off socket open this long, to show with"
          + " lsof that both processes hold the same socket. For demonstrations only."
          + " Default: ${DEFAULT-VALUE}."));

  final OptionSpec shutdownGrace = args.option(CommandSpecs.duration("--shutdown-grace")
      .defaultValue("2s")
      .description("On SIGTERM or SIGINT, how long to keep handing off connections already"
          + " accepted before closing them. Default: ${DEFAULT-VALUE}."));

  final OptionSpec metrics = args.option(OptionSpec.builder("--metrics").paramLabel("ADDR:PORT")
      .type(InetSocketAddress.class).converters(new HostPortConverter())
      .description("Serve counters and the handoff latency histogram in the Prometheus text"
          + " format at http://ADDR:PORT/metrics. Default: off."));

  final OptionSpec protocol = args.option(OptionSpec.builder("--protocol").paramLabel("NAME")
      .type(String.class).defaultValue("handoff")
      .description("How connections are handed over: 'handoff', this project's protocol (a"
          + " header per connection, an acknowledgement back, redelivery when an app goes"
          + " away), or 'plain', one descriptor per message with a one-byte payload and the"
          + " proxy's copy closed at once, for receivers that read one descriptor per message: no"
          + " acknowledgement, no redelivery. Default: ${DEFAULT-VALUE}."));

  final OptionSpec control = args.option(OptionSpec.builder("--control").paramLabel("PATH")
      .type(Path.class)
      .description("Listen on this unix socket (mode 0600) for a new proxy started with"
          + " --take-over, which takes every listening socket over (the one of PORT, or each of"
          + " the --config file): an upgrade that refuses no connection. With --take-over: the"
          + " running proxy's control socket, which this proxy listens on once the running one"
          + " is done. With --control, SIGHUP starts that new proxy itself (scripts/proxy run"
          + " again with the same arguments and --take-over): a reload of the --config file"
          + " and of the jar. Default: off."));

  final OptionSpec controlUids = args.option(OptionSpec.builder("--control-uid").paramLabel("UID")
      .type(List.class).auxiliaryTypes(Integer.class)
      .description("Only let a proxy of this uid take over (SO_PEERCRED); may be repeated."
          + " Default: the proxy's own uid and root."));

  final OptionSpec takeOver = args.option(OptionSpec.builder("--take-over").type(boolean.class)
      .initialValue(false)
      .description("Take over from the proxy running with --control PATH: receive its listening"
          + " sockets, accept on them, and let it finish the connections it accepted and exit 0."
          + " With PORT: PORT, --bind and --backlog are those of the one socket received. With"
          + " --config (which may have changed): each listener accepts on the received socket of"
          + " its address (ADDR:PORT, 0.0.0.0 and :: only matching themselves), a listener"
          + " without one binds its own, and a received socket no listener wants is closed: it"
          + " stops listening when the running proxy exits."));

  final OptionSpec proxyProtocolFrom = args.option(OptionSpec.builder("--proxy-protocol-from")
      .paramLabel("CIDR").type(List.class).auxiliaryTypes(Cidr.class)
      .converters(new Cidr.Converter())
      .description("A load balancer in this IPv4 or IPv6 range (ADDR/BITS, or one ADDR) sends a"
          + " PROXY protocol header (v1 or v2) first: the proxy reads exactly that header and"
          + " hands the connection on with the original client's address, which the app sees as"
          + " its client; a connection from it without a valid header is closed. From anywhere"
          + " else, a connection that starts with a PROXY header is refused. May be repeated."
          + " Default: off (nothing is looked at)."));

  final OptionSpec proxyProtocolTimeout = args.option(
      CommandSpecs.duration("--proxy-protocol-timeout")
      .defaultValue("3s")
      .description("With --proxy-protocol-from: how long a connection may take to send its first"
          + " bytes. A load balancer's connection without a whole header by then is closed;"
          + " another client's is handed on as it is (a protocol in which the server speaks first"
          + " waits this long). Default: ${DEFAULT-VALUE}."));

  /** PORT; 0 when not given. */
  int port() {
    return port.getValue();
  }

  /** {@code --config FILE}, or null. */
  Path configFile() {
    return configFile.getValue();
  }

  /** {@code --check-config}. */
  boolean checkConfig() {
    return checkConfig.getValue();
  }

  /** {@code --control PATH}, or null. */
  Path control() {
    return control.getValue();
  }

  /** {@code --take-over}. */
  boolean takeOver() {
    return takeOver.getValue();
  }

  /** The uids of {@code --control-uid}, or null for the default. */
  List<Integer> controlUids() {
    return controlUids.getValue();
  }

  /** {@code --metrics ADDR:PORT}, or null. */
  InetSocketAddress metrics() {
    return metrics.getValue();
  }

  /**
   * The configuration of each listener: one from PORT, SOCKET and --route, or one per listener of
   * the --config file, in its order.
   */
  List<ProxyConfig> configurations() {
    checkOptions();
    int port = port();
    List<Path> sockets = listOf(this.sockets);
    List<String> routes = listOf(this.routes);
    boolean sticky = this.sticky.getValue();
    List<Cidr> proxyProtocolFrom = listOf(this.proxyProtocolFrom);
    Path configFile = configFile();
    if (configFile == null) {
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
      return List.of(listener("default", bind.getValue(), port, table, peekOptions(),
          proxyProtocolFrom, sticky));
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
      PeekOptions peek = new PeekOptions(
          spec.peekMaxBytes() > 0 ? spec.peekMaxBytes() : defaults.maxBytes(),
          spec.peekTimeout() != null ? spec.peekTimeout() : defaults.timeout(),
          spec.closeMalformed() != null ? spec.closeMalformed() : defaults.closeMalformed(),
          spec.deferAccept() != null ? spec.deferAccept() : defaults.deferAccept());
      List<Cidr> trusted = proxyProtocolFrom;
      if (!spec.proxyProtocolFrom().isEmpty()) {
        trusted = spec.proxyProtocolFrom().stream().map(Cidr::parse).toList();
      }
      configs.add(listener(spec.name(), spec.address().getAddress(), spec.address().getPort(),
          spec.routes(), peek, trusted, spec.sticky() != null ? spec.sticky() : sticky));
    }
    return configs;
  }

  /** The options that hold for every listener: checked once, before any listener. */
  private void checkOptions() {
    int window = this.window.getValue();
    int backlog = this.backlog.getValue();
    int queueSize = this.queueSize.getValue();
    if (window < 1) {
      throw usage("--window must be at least 1");
    }
    if (backlog < 1) {
      throw usage("--backlog must be at least 1");
    }
    if (queueSize < 1) {
      throw usage("--queue-size must be at least 1");
    }
    String protocol = this.protocol.getValue();
    if (!protocol.equals("handoff") && !protocol.equals("plain")) {
      throw usage("--protocol '" + protocol + "' is neither 'handoff' nor 'plain'");
    }
    Path control = control();
    if (takeOver() && control == null) {
      throw usage("--take-over needs --control PATH, the running proxy's control socket");
    }
    if (control != null) {
      String problem = SocketPaths.problem(control, true);
      if (problem != null) {
        throw usage("--control: " + problem);
      }
    }
    Duration retryMin = this.retryMin.getValue();
    if (retryMin.isZero()) {
      throw usage("--retry-min must be more than 0");
    }
    Duration proxyProtocolTimeout = this.proxyProtocolTimeout.getValue();
    if (proxyProtocolTimeout.isZero() || proxyProtocolTimeout.isNegative()) {
      throw usage("--proxy-protocol-timeout must be more than 0");
    }
  }

  private PeekOptions peekOptions() {
    int peekMaxBytes = this.peekMaxBytes.getValue();
    Duration peekTimeout = this.peekTimeout.getValue();
    String peekMalformed = this.peekMalformed.getValue();
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
        peekDeferAccept.getValue());
  }

  /** Checks one listener's routes against the options, and makes its configuration. */
  private ProxyConfig listener(String name, InetAddress address, int listenPort, RouteTable table,
      PeekOptions peek, List<Cidr> trusted, boolean stickyListener) {
    for (RouteSpec route : table.all()) {
      for (Path socket : route.sockets()) {
        String problem = SocketPaths.problem(socket, false);
        if (problem != null) {
          throw usage(route.name().equals("default") ? problem
              : "--route " + route.name() + ": " + problem);
        }
      }
    }
    boolean plain = protocol.getValue().equals("plain");
    if (table.needsPeek() && plain) {
      throw usage("--route needs --protocol handoff: a plain handoff has no routes");
    }
    List<RouteSpec> absoluteRoutes = new java.util.ArrayList<>();
    for (RouteSpec route : table.routes()) {
      absoluteRoutes.add(new RouteSpec(route.name(), route.rule(), absolute(route.sockets())));
    }
    List<Path> absolute = table.fallback() == null ? List.of()
        : absolute(table.fallback().sockets());
    RouteTable absoluteTable = new RouteTable(absoluteRoutes, absolute.isEmpty() ? null
        : new RouteSpec("default", table.fallback().rule(), absolute));
    List<Integer> appUids = this.appUids.getValue();
    Set<Integer> uids = appUids == null ? Uids.selfAndRoot() : Set.copyOf(appUids);
    return new ProxyConfig(name, new ProxyConfig.Listen(address, listenPort, backlog.getValue()),
        new ProxyConfig.ProxyProtocolFrom(trusted, proxyProtocolTimeout.getValue()),
        absoluteTable, peek,
        new LinkOptions(queueSize.getValue(), queueWait.getValue(), holdCopy.getValue(),
            retryMin.getValue(), retryMax.getValue(), window.getValue(), ackTimeout.getValue(),
            uids, stickyListener),
        plain, shutdownGrace.getValue());
  }

  private static List<Path> absolute(List<Path> sockets) {
    return sockets.stream().map(Path::toAbsolutePath).distinct().toList();
  }

  /** The values of a repeatable option or argument: empty when it is not given. */
  private static <T> List<T> listOf(ArgSpec arg) {
    List<T> values = arg.getValue();
    return values == null ? List.of() : values;
  }

  /** Adds the arguments and options to the proxy command's model, in their order. */
  ProxyOptions addTo(CommandSpec command) {
    args.addTo(command);
    this.command = command;
    return this;
  }

  ParameterException usage(String message) {
    return new ParameterException(command.commandLine(), message);
  }
}
