package dev.handoff.it;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The plain descriptor senders and receivers InteropIT runs against the real launchers: a
 * runc-style sender in Go (it/src/test/go/runcsend) and a C sender (it/src/test/c/sendfd.c), both
 * in this repository and always run; and, when {@code -Dhandoff.seeds=DIR} names the directory of
 * the project's design documents, the Go proxy and app that the design document
 * {@value #DESIGN_GO_PROGRAMS} defines, extracted from it and built here.
 *
 * <p>Extraction: the document's only {@code ```golang} block holds two programs, each starting with
 * {@code package main}; the first is the proxy (its usage line says "receiver &lt;listen addr&gt;
 * &lt;unix domain socket file&gt;"), the second the app ("responser &lt;unix domain socket
 * file&gt;"). They are compiled as written, except that the app's unused {@code "time"} import is
 * removed (Go refuses to build a program with an unused import). Nothing is hard-coded in them:
 * the listen address and socket path are their arguments, so no constant is patched.
 *
 * <p>Builds go to {@code target/interop} with {@code GOCACHE} and {@code GOPATH} there, {@code
 * GO111MODULE=off} (standard library only) and {@code CGO_ENABLED=0}.
 */
final class PlainPrograms {
  static final Path WORK = Path.of("target", "interop").toAbsolutePath();
  /** The design document, in the directory {@code -Dhandoff.seeds} names, with two Go programs. */
  static final String DESIGN_GO_PROGRAMS = "002_51a731b801237b1e.txt";
  /** The design documents' directory, given with {@code -Dhandoff.seeds}; empty when not given. */
  static final String SEEDS = System.getProperty("handoff.seeds", "").trim();

  private PlainPrograms() {}

  static boolean onPath(String command) {
    try {
      Process p = new ProcessBuilder("bash", "-c", "command -v " + command)
          .redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Skips the calling test, saying why, when Go is not installed. */
  static void assumeGo() {
    assumeTrue(onPath("go"), "the Go toolchain ('go') is not installed: the interop tests with"
        + " Go programs need it (scripts/test.sh and .ci/run install Debian's golang-go)");
  }

  static void assumeGcc() {
    assumeTrue(onPath("gcc"), "gcc is not installed: the C sender cannot be built"
        + " (scripts/test.sh and .ci/run install it)");
  }

  /**
   * The design document's two Go programs: [proxy, app], as InteropIT compiles them. The document
   * lives outside this repository: without {@code -Dhandoff.seeds=DIR} the calling test is skipped,
   * saying so; with it, a missing or changed document fails the test.
   */
  static String[] designGoPrograms() throws IOException {
    assumeTrue(!SEEDS.isEmpty(), "the Go proxy and app of the design document "
        + DESIGN_GO_PROGRAMS + " are built from that document, which is not part of this"
        + " repository: give its directory with -Dhandoff.seeds=DIR to run this check");
    Path document = Daemon.ROOT.resolve(SEEDS).resolve(DESIGN_GO_PROGRAMS); // relative: to the repo
    if (!Files.isRegularFile(document)) {
      throw new AssertionError(DESIGN_GO_PROGRAMS + " not found in -Dhandoff.seeds=" + SEEDS);
    }
    String text = Files.readString(document, StandardCharsets.UTF_8);
    int open = text.indexOf("```golang\n");
    int close = text.indexOf("\n```", open + 1);
    if (open < 0 || close < 0) {
      throw new AssertionError("no ```golang block in " + document);
    }
    String block = text.substring(open + "```golang\n".length(), close + 1);
    int second = block.indexOf("package main", 1);
    if (!block.startsWith("package main") || second < 0) {
      throw new AssertionError("expected two programs, each from 'package main', in " + document);
    }
    String proxy = block.substring(0, second);
    String app = block.substring(second);
    if (!proxy.contains("WriteMsgUnix") || !app.contains("ReadMsgUnix")) {
      throw new AssertionError("the document's Go proxy or app is not where expected");
    }
    String withoutTime = app.replaceFirst("\n\\s*\"time\"\n", "\n");
    if (withoutTime.equals(app)) {
      throw new AssertionError("the document's Go app no longer imports \"time\"");
    }
    return new String[] {proxy, withoutTime};
  }

  /** Builds one Go program from its source text; returns the binary. */
  static Path goBuild(String name, String source) throws IOException, InterruptedException {
    Path dir = Files.createDirectories(WORK.resolve("go-src").resolve(name));
    Path main = dir.resolve("main.go");
    Files.writeString(main, source, StandardCharsets.UTF_8);
    Path binary = WORK.resolve("bin").resolve(name);
    Files.createDirectories(binary.getParent());
    ProcessBuilder build = new ProcessBuilder("go", "build", "-o", binary.toString(),
        main.toString()).directory(dir.toFile());
    build.environment().put("GOCACHE", WORK.resolve("go-cache").toString());
    build.environment().put("GOPATH", WORK.resolve("go-path").toString());
    build.environment().put("GO111MODULE", "off");
    build.environment().put("CGO_ENABLED", "0");
    build.environment().put("GOFLAGS", "");
    run(build, "go build " + name, Duration.ofMinutes(5));
    return binary;
  }

  /** Builds a C program with gcc; returns the binary. */
  static Path gccBuild(String name, Path source) throws IOException, InterruptedException {
    Path binary = WORK.resolve("bin").resolve(name);
    Files.createDirectories(binary.getParent());
    run(new ProcessBuilder("gcc", "-Wall", "-O2", "-o", binary.toString(), source.toString()),
        "gcc " + name, Duration.ofMinutes(2));
    return binary;
  }

  private static void run(ProcessBuilder builder, String what, Duration timeout)
      throws IOException, InterruptedException {
    Process p = builder.redirectErrorStream(true)
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(what + " did not finish within " + timeout);
    }
    if (p.exitValue() != 0) {
      throw new AssertionError(what + " failed (" + p.exitValue() + "):\n"
          + new String(out, StandardCharsets.UTF_8));
    }
  }

  /** A running helper program, its output (stdout and stderr) in a log file. */
  static final class Program implements AutoCloseable {
    final String name;
    final Process process;
    final Path log;

    Program(Path logDir, String name, List<String> command) throws IOException {
      this.name = name;
      Files.createDirectories(logDir);
      this.log = Files.createTempFile(logDir, name + "-", ".log");
      this.process = new ProcessBuilder(new ArrayList<>(command)).redirectErrorStream(true)
          .redirectOutput(log.toFile())
          .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
    }

    String log() {
      try {
        return Files.readString(log, StandardCharsets.UTF_8);
      } catch (IOException e) {
        return "(log unreadable: " + e + ")";
      }
    }

    /** Waits for {@code text} in the output; fails with the output if it does not come. */
    String awaitLog(String text, Duration timeout) {
      long deadline = System.nanoTime() + timeout.toNanos();
      while (System.nanoTime() < deadline) {
        String log = log();
        if (log.contains(text)) {
          return log;
        }
        if (!process.isAlive()) {
          throw new AssertionError(name + " exited with " + process.exitValue()
              + " before printing '" + text + "':\n" + log);
        }
        Daemon.sleep(20);
      }
      throw new AssertionError(name + " did not print '" + text + "' within " + timeout + ":\n"
          + log());
    }

    /** The port from a "listening on port N" line. */
    int awaitPort() {
      String log = awaitLog("listening on port ", Duration.ofSeconds(20));
      String rest = log.substring(log.indexOf("listening on port ") + "listening on port ".length());
      return Integer.parseInt(rest.substring(0, rest.indexOf('\n')).strip());
    }

    int awaitExit(Duration timeout) throws InterruptedException {
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new AssertionError(name + " still running after " + timeout + ":\n" + log());
      }
      return process.exitValue();
    }

    void kill() throws InterruptedException {
      process.destroyForcibly();
      process.waitFor(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
      if (process.isAlive()) {
        kill();
      }
    }
  }
}
