package dev.handoff.it;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@code proxy} or {@code app} started through its launcher in scripts/, as a user would, with
 * its log in a file; or one that another daemon started ({@link #adopt}: a proxy's successor after
 * SIGHUP), known by its pid alone. Closing it kills whatever is still running.
 */
final class Daemon implements AutoCloseable {
  static final Path ROOT = Path.of(System.getProperty("handoff.root", "..")).toAbsolutePath()
      .normalize();

  /** Not an environment variable: a command (words separated by spaces) to start the role with. */
  static final String WRAPPER = "handoff.it.wrapper";

  private final String role;
  /** Null for an adopted daemon, which is not this JVM's child: no exit status then. */
  private final Process process;
  private final ProcessHandle handle;
  private final Path log;

  private Daemon(String role, Process process, Path log) {
    this.role = role;
    this.process = process;
    this.handle = process.toHandle();
    this.log = log;
  }

  private Daemon(String role, ProcessHandle handle, Path log) {
    this.role = role;
    this.process = null;
    this.handle = handle;
    this.log = log;
  }

  private static final java.util.regex.Pattern SUCCESSOR =
      java.util.regex.Pattern.compile("started a new proxy \\(pid (\\d+)\\)");

  /** The pids of the successors a proxy's log says SIGHUP started, in order. */
  static List<Long> successorPids(String log) {
    List<Long> pids = new ArrayList<>();
    java.util.regex.Matcher m = SUCCESSOR.matcher(log);
    while (m.find()) {
      pids.add(Long.parseLong(m.group(1)));
    }
    return pids;
  }

  /**
   * A daemon this test did not start, such as the proxy that a proxy started at SIGHUP, which
   * writes to {@code parent}'s log (it inherits its stdout). Fails if {@code pid} is not running.
   */
  static Daemon adopt(Daemon parent, long pid) {
    ProcessHandle handle = ProcessHandle.of(pid)
        .orElseThrow(() -> new AssertionError("pid " + pid + " is not running:\n" + parent.log()));
    return new Daemon(parent.role, handle, parent.log);
  }

  /** Starts {@code scripts/ROLE args...}; output goes to {@code logDir/ROLE-N.log}. */
  static Daemon start(Path logDir, String role, String... args) throws IOException {
    return start(logDir, 0, role, args);
  }

  /**
   * Starts {@code scripts/ROLE args...} with at most {@code fdLimit} open descriptors ({@code
   * ulimit -n}; 0 for no change). The launcher execs java, so the pid is the JVM's.
   */
  static Daemon start(Path logDir, int fdLimit, String role, String... args) throws IOException {
    return start(logDir, fdLimit, java.util.Map.of(), role, args);
  }

  /**
   * Starts every daemon with SIGHUP and SIGINT at their default disposition, as a terminal or
   * systemd starts it: a JVM started with either ignored (the test run under nohup, a CI runner,
   * or a background job of a shell, which ignores SIGINT) keeps it ignored, and the reload or
   * stop the tests send would never arrive. coreutils' env (9.0 or later) resets them.
   */
  static final List<String> DEFAULT_SIGNALS = List.of("env", "--default-signal=HUP,INT");

  /** As above, with extra environment variables (JAVA_OPTS, say). */
  static Daemon start(Path logDir, int fdLimit, java.util.Map<String, String> env, String role,
      String... args) throws IOException {
    List<String> command = new ArrayList<>(DEFAULT_SIGNALS);
    if (env.containsKey(WRAPPER)) {
      command.addAll(List.of(env.get(WRAPPER).split(" ")));
    }
    if (fdLimit > 0) {
      command.addAll(List.of("bash", "-c", "ulimit -n " + fdLimit + " && exec \"$0\" \"$@\""));
    }
    command.add(ROOT.resolve("scripts").resolve(role).toString());
    command.addAll(List.of(args));
    Files.createDirectories(logDir);
    Path log = Files.createTempFile(logDir, role + "-", ".log");
    ProcessBuilder builder = new ProcessBuilder(command);
    builder.environment().putAll(env);
    builder.environment().remove(WRAPPER);
    Process process = builder
        .redirectErrorStream(true)
        .redirectOutput(log.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .start();
    return new Daemon(role, process, log);
  }

  /** Starts an app and waits until it listens. */
  static Daemon app(Path logDir, Path socket, String... options) throws IOException {
    Daemon app = start(logDir, "app", concat(options, socket.toString()));
    app.awaitLog("for proxy links", Duration.ofSeconds(20));
    return app;
  }

  /** Starts a proxy for one or more app sockets and waits until it listens. */
  static Daemon proxy(Path logDir, int port, List<Path> sockets, String... options)
      throws IOException {
    List<String> positional = new ArrayList<>();
    positional.add(Integer.toString(port));
    sockets.forEach(s -> positional.add(s.toString()));
    Daemon proxy = start(logDir, "proxy", concat(options, positional.toArray(new String[0])));
    proxy.awaitLog("listening on", Duration.ofSeconds(20));
    return proxy;
  }

  private static String[] concat(String[] options, String... positional) {
    String[] all = new String[options.length + positional.length];
    System.arraycopy(options, 0, all, 0, options.length);
    System.arraycopy(positional, 0, all, options.length, positional.length);
    return all;
  }

  String log() {
    try {
      return Files.readString(log, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(log unreadable: " + e + ")";
    }
  }

  /** Waits until the log contains {@code text}; fails with the log if it does not in time. */
  void awaitLog(String text, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (log().contains(text)) {
        return;
      }
      if (!isAlive()) {
        throw new AssertionError(role + " exited with " + exitStatus()
            + " before logging '" + text + "':\n" + log());
      }
      sleep(20);
    }
    throw new AssertionError(role + " did not log '" + text + "' within " + timeout + ":\n"
        + log());
  }

  /** How many times {@code text} occurs in {@code log}. */
  static int count(String log, String text) {
    int n = 0;
    for (int i = log.indexOf(text); i >= 0; i = log.indexOf(text, i + 1)) {
      n++;
    }
    return n;
  }

  /**
   * Waits until the log contains {@code text} {@code n} times, whether or not the process still
   * runs; fails with the log if it does not in time.
   */
  void awaitCount(String text, int n, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (count(log(), text) < n) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not " + n + " times '" + text + "':\n" + log());
      }
      sleep(20);
    }
  }

  /** An app's live connection count, from the status line SIGUSR1 makes it log. */
  int liveConnections() {
    return status("live");
  }

  /**
   * A counter of the app's status line ({@code adopted}, {@code live}, {@code links}, ...), which
   * SIGUSR1 makes it log.
   */
  int status(String counter) {
    int before = log().length();
    try {
      signal("USR1");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (System.nanoTime() < deadline) {
      Matcher m = Pattern.compile("status: .*\\b" + counter + "=(\\d+)")
          .matcher(log().substring(before));
      if (m.find()) {
        return Integer.parseInt(m.group(1));
      }
      sleep(20);
    }
    throw new AssertionError("no status line after SIGUSR1:\n" + log());
  }

  long pid() {
    return handle.pid();
  }

  boolean isAlive() {
    return handle.isAlive();
  }

  /** Whether this daemon was started by another ({@link #adopt}): it has no exit status here. */
  boolean adopted() {
    return process == null;
  }

  /** The exit status, or "an unknown status" for an adopted daemon. */
  private String exitStatus() {
    return process == null ? "an unknown status" : Integer.toString(process.exitValue());
  }

  /** Open descriptors of the process, from /proc. */
  int openFds() {
    String[] fds = new File("/proc/" + pid() + "/fd").list();
    if (fds == null) {
      throw new AssertionError(role + " is not running");
    }
    return fds.length;
  }

  /** The descriptor count once it has stopped changing (the same for half a second). */
  int settledFds() {
    int last = openFds();
    for (int same = 0, rounds = 0; same < 5 && rounds < 200; rounds++) {
      sleep(100);
      int now = openFds();
      same = now == last ? same + 1 : 0;
      last = now;
    }
    return last;
  }

  /**
   * Waits until the process holds at least {@code n} descriptors (a connection accepted and held,
   * say); fails saying {@code what} did not happen in time.
   */
  void awaitFdsAtLeast(int n, String what, Duration timeout) {
    await(role + " " + what + " (at least " + n + " descriptors)", timeout, () -> openFds() >= n);
  }

  /**
   * Waits until {@code condition} holds, checking every 20 ms; fails saying {@code what} did not
   * happen within {@code timeout}.
   */
  static void await(String what, Duration timeout, java.util.function.BooleanSupplier condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within " + timeout + ": " + what);
      }
      sleep(20);
    }
  }

  /** Waits until the descriptor count is back to {@code baseline}; returns the last count seen. */
  int awaitFds(int baseline, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    int count = openFds();
    while (count != baseline && System.nanoTime() < deadline) {
      sleep(50);
      count = openFds();
    }
    return count;
  }

  /**
   * Sends a signal by name (STOP, CONT, HUP, ...) with kill(1). The daemons start with SIGHUP at
   * its default disposition ({@link #DEFAULT_SIGNALS}) whatever this test process ignores.
   */
  void signal(String name) throws IOException, InterruptedException {
    Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(pid())).start();
    if (kill.waitFor() != 0) {
      throw new AssertionError("kill -" + name + " " + pid() + " failed");
    }
    if (name.equals("STOP")) {
      // kill(2) returns before every thread has stopped: a thread running on another CPU may
      // still take a handoff. Frozen means every thread in state T.
      await(this + " stopped, every thread", Duration.ofSeconds(10), this::allThreadsStopped);
    }
  }

  /** Whether every thread of the process is stopped by a signal (state T in /proc). */
  private boolean allThreadsStopped() {
    File[] tasks = new File("/proc/" + pid() + "/task").listFiles();
    if (tasks == null) {
      throw new AssertionError(role + " is not running");
    }
    for (File task : tasks) {
      try {
        String stat = Files.readString(task.toPath().resolve("stat"));
        // pid (comm) state ...: the comm may hold spaces and parentheses, the state follows the
        // last ')'.
        char state = stat.charAt(stat.lastIndexOf(')') + 2);
        if (state != 'T') {
          return false;
        }
      } catch (IOException gone) {
        // a thread that ended meanwhile
      }
    }
    return true;
  }

  /** SIGTERM. */
  void terminate() {
    handle.destroy();
  }

  /** SIGTERM, requires exit status 0 within 15 s, and returns the whole log. */
  String stopAndLog() throws InterruptedException {
    terminate();
    int status = awaitExit(Duration.ofSeconds(15));
    if (status != 0) {
      throw new AssertionError(role + " exited with " + status + " after SIGTERM:\n" + log());
    }
    return log();
  }

  /** SIGKILL, and wait for the process to be gone. */
  void kill() throws InterruptedException {
    handle.destroyForcibly();
    awaitGone(Duration.ofSeconds(10));
  }

  /** Waits for the exit; fails with the log if it takes longer than {@code timeout}. */
  int awaitExit(Duration timeout) throws InterruptedException {
    if (process == null) {
      throw new AssertionError("an adopted daemon has no exit status; use awaitGone");
    }
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError(role + " still running after " + timeout + ":\n" + log());
    }
    return process.exitValue();
  }

  /** Waits until the process is gone, adopted or not; fails with the log if it is not in time. */
  void awaitGone(Duration timeout) throws InterruptedException {
    try {
      handle.onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError(role + " " + pid() + " still running after " + timeout + ":\n"
          + log());
    } catch (java.util.concurrent.ExecutionException e) {
      throw new AssertionError(e);
    }
  }

  @Override
  public void close() throws InterruptedException {
    if (isAlive()) {
      kill();
    }
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  @Override
  public String toString() {
    return role + " " + pid();
  }
}
