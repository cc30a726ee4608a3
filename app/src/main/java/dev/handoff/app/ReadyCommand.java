package dev.handoff.app;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The app's readiness check for a take-over ({@code --ready-command}): a shell command, run with
 * {@code /bin/sh -c}, whose exit status 0 says this app is ready; its output (standard output and
 * error) is logged line by line. Interrupted (the take-over is over), it kills the command.
 */
final class ReadyCommand implements Callable<Void> {
  private static final Logger log = LoggerFactory.getLogger(ReadyCommand.class);
  private final String command;

  ReadyCommand(String command) {
    this.command = command;
  }

  /**
   * Runs the command to its end.
   *
   * @throws IOException if it cannot be started or exits with a status other than 0
   * @throws InterruptedException if interrupted; the command is killed
   */
  @Override
  public Void call() throws IOException, InterruptedException {
    log.info("checking this app is ready: {}", command);
    Process process = new ProcessBuilder("/bin/sh", "-c", command)
        .redirectErrorStream(true)
        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
        .start();
    Thread output = new Thread(() -> logOutput(process), "ready-command-output");
    output.setDaemon(true);
    output.start();
    int status;
    try {
      status = process.waitFor();
    } catch (InterruptedException e) {
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
      throw e;
    }
    output.join(1_000); // the rest of its output, unless a child it left holds the pipe open
    if (status != 0) {
      throw new IOException("--ready-command exited with status " + status);
    }
    log.info("--ready-command passed");
    return null;
  }

  private void logOutput(Process process) {
    try (BufferedReader lines = new BufferedReader(new InputStreamReader(
        process.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = lines.readLine()) != null) {
        log.info("--ready-command: {}", line);
      }
    } catch (IOException e) {
      // the command was killed: nothing more to log
    }
  }
}
