package dev.handoff.proxy;

import dev.handoff.common.Closeables;
import dev.handoff.cli.MetricsEndpoint;
import dev.handoff.proxy.accept.SocketActivation;
import dev.handoff.proxy.upgrade.ControlServer;
import dev.handoff.proxy.upgrade.Hangup;
import dev.handoff.proxy.upgrade.Reloader;
import dev.handoff.proxy.upgrade.UpgradeControl;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import dev.handoff.cli.ExitCodes;
import dev.handoff.cli.StatusSignal;
import dev.handoff.common.internal.JdkNioInternals;
import dev.handoff.cli.LoggingOptions;
import dev.handoff.cli.CliCommand;
import dev.handoff.cli.CommandSpecs;
import dev.handoff.cli.HangupSignal;
import dev.handoff.cli.ShutdownSignal;
import dev.handoff.cli.SystemdNotify;
import dev.handoff.common.Uids;
import dev.handoff.cli.UsageErrorHandler;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code proxy PORT SOCKET...}: owns the public port and hands every connection to an app. Its
 * command line is declared with picocli's builders ({@link CommandSpecs}, {@link ProxyOptions}).
 */
public final class ProxyCommand implements CliCommand {
  private static final Logger log = LoggerFactory.getLogger(ProxyCommand.class);
  /** How the log says where a listening socket received from the running proxy came from. */
  private static final String RECEIVED = " (socket passed on by the running proxy)";

  private final CommandSpec spec = CommandSpecs.command("proxy", this,
      "Accepts TCP connections on PORT and hands each one, as a file descriptor, to an app"
          + " listening on a unix socket SOCKET. Once the app has acknowledged it, the proxy"
          + " closes its copy: it is not in the data path.",
      "Starts in any order with the app; connections accepted while no app is linked wait in a"
          + " bounded queue.",
      "With --route, each connection goes to the app of the first route whose rule its first"
          + " bytes match (TLS server name or ALPN, HTTP Host), read with MSG_PEEK so that the"
          + " app reads every byte itself; for example: proxy 443 --route"
          + " sni:api.example.com=/run/api.sock --route default=/run/web.sock");

  private final LoggingOptions logging = new LoggingOptions().addTo(spec);

  final ProxyOptions options = new ProxyOptions().addTo(spec);

  {
    CommandSpecs.finish(spec,
        "0:stopped by SIGTERM or SIGINT after an orderly shutdown",
        "1:failure at run time, such as the port being taken (see the log)",
        "2:usage error (bad option or argument; nothing started)");
  }

  /** The command line as given, for a successor started by SIGHUP ({@link Reloader}). */
  private List<String> arguments = List.of();

  public static void main(String[] args) {
    ProxyCommand command = new ProxyCommand();
    command.arguments = List.of(args);
    System.exit(UsageErrorHandler.commandLine(command).execute(args));
  }

  @Override
  public CommandSpec spec() {
    return spec;
  }

  @Override
  public Integer call() throws Exception {
    List<ProxyConfig> configs = options.configurations();
    if (options.checkConfig()) {
      java.io.PrintWriter out = spec.commandLine().getOut();
      for (ProxyConfig config : configs) {
        out.println(config.describe());
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
    Set<Integer> uids = options.controlUids() == null ? Uids.selfAndRoot()
        : Set.copyOf(options.controlUids());
    return new UpgradeControl(options.control(), options.takeOver(), uids, signal::trigger,
        reloader == null ? ControlServer.Links.NONE : reloader);
  }

  /** With {@code --control}: what starts a successor at SIGHUP; null without. */
  private Reloader reloader() {
    return options.control() == null ? null
        : Reloader.forThisProcess(arguments, options.control().toAbsolutePath());
  }

  /**
   * Runs the listeners until SIGTERM or SIGINT: a {@link ProxyServer} each, their meters in one
   * registry (with a {@code listener} label when they come from a configuration file), served on
   * one endpoint. One listener from PORT is the case of one; only it may be passed in by systemd,
   * and one socket received from a running proxy is taken whatever its address.
   */
  private int run(List<ProxyConfig> configs) throws Exception {
    JdkNioInternals.requireAvailable();
    if (options.takeOver() || options.control() != null) {
      // The new proxy wraps the sockets it is passed; the old one wraps its kept copies again if
      // the new one goes away: check now, not in the middle of an upgrade.
      JdkNioInternals.requireServerSocketChannels();
    }
    ShutdownSignal signal = ShutdownSignal.install();
    Path configFile = options.configFile();
    byte[] readAtStart = configFile == null ? null : java.nio.file.Files.readAllBytes(configFile);
    Reloader reloader = reloader();
    if (!HangupSignal.install(new Hangup(reloader, configFile, readAtStart))
        && options.control() != null) {
      log.warn("SIGHUP is ignored in this process (it was started with SIGHUP ignored, as under"
          + " nohup or some CI runners): reload by SIGHUP is unavailable; to reload, start the new"
          + " proxy yourself with the same arguments plus --take-over: it takes over through the"
          + " control socket {}", options.control());
    }
    if (configs.stream().anyMatch(c -> c.routes().needsPeek())) {
      dev.handoff.proxy.accept.MsgPeek.requireAvailable();
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
        created.add(new ProxyServer(configs.get(i), registryOf(configs.get(i), shared)));
      }
      received = upgrade.prepare(created, configFile == null);
      // Served before any listener accepts: whoever reaches the port can read the meters.
      starting = "cannot serve the metrics";
      if (options.metrics() != null) {
        endpoint = MetricsEndpoint.start(options.metrics(), shared);
      }
      starting = "cannot start";
      for (int i = 0; i < configs.size(); i++) {
        if (configFile != null) {
          starting = "cannot start listener " + configs.get(i).name();
        }
        if (received.get(i) != null) {
          created.get(i).start(received.get(i), RECEIVED);
        } else {
          // Binds afresh when systemd passed nothing (it passes one socket, for PORT only).
          created.get(i).start(configFile == null ? SocketActivation.listener() : null);
        }
        servers.add(created.get(i));
        if (configFile != null) {
          log.info("{}", configs.get(i).describe());
        }
      }
    } catch (java.io.IOException | RuntimeException e) {
      log.error("{}: {}", starting, e.getMessage());
      // The received sockets of the listeners not started; a started one closes its own.
      for (int i = servers.size(); i < received.size(); i++) {
        Closeables.closeQuietly(received.get(i));
      }
      upgrade.close(); // the running proxy, if any, never stopped accepting
      stopAll(servers);
      if (endpoint != null) {
        endpoint.close();
      }
      return ExitCodes.FAILURE;
    }
    upgrade.started();
    SystemdNotify.ready(configFile == null ? "accepting on port " + options.port()
        : "accepting on " + configs.size() + " listeners");
    StatusSignal.install(() -> {
      for (int i = 0; i < servers.size(); i++) {
        log.info("{}", configFile == null ? servers.get(i).status()
            : configs.get(i).name() + ": " + servers.get(i).status());
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
  private MeterRegistry registryOf(ProxyConfig config, PrometheusMeterRegistry shared) {
    if (options.configFile() == null) {
      return shared;
    }
    CompositeMeterRegistry view = new CompositeMeterRegistry();
    view.config().commonTags("listener", config.name());
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


}
