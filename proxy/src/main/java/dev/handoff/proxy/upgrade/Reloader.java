package dev.handoff.proxy.upgrade;

import dev.handoff.proxy.accept.SocketActivation;
import dev.handoff.common.Errors;
import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SIGHUP's reload for a proxy run with {@code --control PATH}: starts this proxy's successor, which
 * takes over through the control socket (docs/PROTOCOL.md, "Upgrading the proxy") exactly as a
 * proxy started by hand with {@code --take-over} would. The successor is the launcher that started
 * this process ({@code scripts/launch.sh}, named by the JVM property {@value #LAUNCHER}) run
 * again, so that it picks up a new jar and its class-data sharing archive, with this process's
 * command-line arguments plus {@code --take-over}; its stdout and stderr are this process's (the
 * same log), its stdin /dev/null, its environment this one's without the socket-activation
 * variables (it gets every listening socket from the control link).
 *
 * <p>One reload at a time: {@link #reload} while a successor runs and has not yet taken over or
 * failed is logged and ignored. A successor that exits, or that has not opened a control link
 * within {@link #CONNECT_BOUND} (it is then stopped), is logged once with its exit status; the
 * exchange itself leaves this proxy accepting on every failure path ({@link ControlServer}).
 *
 * <p>Ownership: this object owns the successor's {@link Process} handle (not its descriptors)
 * until the successor exits or is stopped; a successor that took over outlives this process.
 */
public final class Reloader implements ControlServer.Links {
  private static final Logger log = LoggerFactory.getLogger(Reloader.class);
  /** The JVM property through which scripts/launch.sh names itself. */
  static final String LAUNCHER = "handoff.launcher";
  /** How long a successor may take to open its control link before it is stopped. */
  static final Duration CONNECT_BOUND = Duration.ofSeconds(60);
  /** What the successor must not inherit: its listening sockets come from the control link. */
  static final List<String> DROPPED_ENV =
      List.of("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", SocketActivation.MARKER);
  private static final String TAKE_OVER = "--take-over";

  private final String launcher;
  private final List<String> arguments;
  private final Path control;
  private final Duration connectBound;
  /** The successor of the reload under way; null when none is; guarded by this. */
  private Process successor;
  /** The pid of the last successor that opened a control link, or -1; guarded by this. */
  private long connected = -1;

  /**
   * @param launcher the launcher's path ({@value #LAUNCHER}), or null if this process was not
   *     started by one: reload is then refused with the reason
   * @param arguments this process's command-line arguments, as given
   * @param control the control socket the successor takes over through
   */
  Reloader(String launcher, List<String> arguments, Path control, Duration connectBound) {
    this.launcher = launcher == null || launcher.isEmpty() ? null : launcher;
    this.arguments = List.copyOf(arguments);
    this.control = control;
    this.connectBound = connectBound;
  }

  /** For this process: the launcher from {@value #LAUNCHER}, the default connect bound. */
  public static Reloader forThisProcess(List<String> arguments, Path control) {
    return new Reloader(System.getProperty(LAUNCHER), arguments, control, CONNECT_BOUND);
  }

  /** The successor's command: the launcher, the role, the arguments and {@code --take-over}. */
  static List<String> command(String launcher, List<String> arguments) {
    List<String> command = new ArrayList<>();
    command.add(launcher);
    command.add("proxy");
    command.addAll(arguments);
    if (!arguments.contains(TAKE_OVER)) {
      command.add(TAKE_OVER);
    }
    return command;
  }

  /** Whether a reload is under way; if so, logs that this SIGHUP is ignored. */
  public synchronized boolean busy() {
    if (successor == null) {
      return false;
    }
    log.warn("SIGHUP received: a reload is under way (new proxy pid {}); ignored",
        successor.pid());
    return true;
  }

  /**
   * Starts a successor unless one runs already (then logs that this SIGHUP is ignored).
   *
   * @param why what the SIGHUP found, for the log line (e.g. "the configuration is valid")
   */
  public synchronized void reload(String why) {
    if (busy()) {
      return;
    }
    if (launcher == null) {
      log.warn("SIGHUP received: {}, but this proxy was not started by scripts/proxy (no -D{}),"
          + " so it cannot start its successor; start one with --control {} --take-over;"
          + " carrying on", why, LAUNCHER, control);
      return;
    }
    List<String> command = command(launcher, arguments);
    ProcessBuilder builder = new ProcessBuilder(command)
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .redirectOutput(ProcessBuilder.Redirect.INHERIT)
        .redirectError(ProcessBuilder.Redirect.INHERIT);
    Map<String, String> env = builder.environment();
    DROPPED_ENV.forEach(env::remove);
    Process started;
    try {
      started = builder.start();
    } catch (IOException | RuntimeException e) {
      log.error("SIGHUP received: {}, but the new proxy cannot be started ({}): {}; carrying on",
          why, command, Errors.describe(e));
      return;
    }
    successor = started;
    log.info("SIGHUP received: {}; started a new proxy (pid {}) to take over through {}: {}",
        why, started.pid(), control, String.join(" ", command));
    Thread watcher = new Thread(() -> watch(started), "reload-watch");
    watcher.setDaemon(true);
    watcher.start();
  }

  /** The control server has a link from {@code pid}: if it is the successor, it has connected. */
  @Override
  public synchronized void linked(long pid) {
    if (successor != null && successor.pid() == pid) {
      connected = pid;
    }
  }

  /**
   * The take-over by {@code pid} failed (the control server logged why, and accepts again): if it
   * was the successor's, the reload is over and the next SIGHUP may start another. A successor
   * that lives on (it may serve on after a failure late in the exchange) is not stopped.
   */
  @Override
  public synchronized void abandoned(long pid) {
    if (successor != null && successor.pid() == pid) {
      successor = null;
    }
  }

  private synchronized boolean hasLinked(Process p) {
    return connected == p.pid();
  }

  /** Waits for the successor's end, stopping it if it does not connect in time; logs it once. */
  private void watch(Process p) {
    try {
      String how = "exited";
      if (!p.waitFor(connectBound.toMillis(), TimeUnit.MILLISECONDS) && !hasLinked(p)) {
        how = "did not connect to " + control + " within " + connectBound.toSeconds()
            + " s and was stopped";
        p.destroy();
        if (!p.waitFor(5, TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      }
      int status = p.waitFor();
      synchronized (this) {
        if (successor == p) {
          successor = null;
        }
      }
      log.warn("reload: the new proxy (pid {}) {} with status {}; this proxy serves on", p.pid(),
          how, status);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
