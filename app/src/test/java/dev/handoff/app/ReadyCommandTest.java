package dev.handoff.app;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The app's readiness check, with a real shell: exit status 0 is ready, anything else is not. */
@Timeout(30)
class ReadyCommandTest {
  @TempDir Path dir;

  @Test
  void aCommandThatExitsZeroIsReady() throws Exception {
    Path ran = dir.resolve("ran");
    new ReadyCommand("echo checked; touch '" + ran + "'").call();
    assertTrue(Files.exists(ran), "the command ran");
  }

  @Test
  void aCommandThatExitsOtherwiseIsNotReadyAndSaysItsStatus() {
    IOException e = assertThrows(IOException.class,
        () -> new ReadyCommand("echo 'database unreachable' >&2; exit 3").call());
    assertTrue(e.getMessage().contains("status 3"), e.getMessage());
  }

  @Test
  void anInterruptedCheckKillsTheCommand() throws Exception {
    Path pid = dir.resolve("pid");
    Thread[] checking = new Thread[1];
    CompletableFuture<Void> check = new CompletableFuture<>();
    checking[0] = new Thread(() -> {
      try {
        new ReadyCommand("echo $$ > '" + pid + "'; exec sleep 60").call();
        check.complete(null);
      } catch (Exception e) {
        check.completeExceptionally(e);
      }
    });
    checking[0].start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!(Files.exists(pid) && !Files.readString(pid).isBlank())) {
      assertTrue(System.nanoTime() < deadline, "the command did not start within 10 s");
      java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
    }
    long commandPid = Long.parseLong(Files.readString(pid).strip());
    checking[0].interrupt();
    ExecutionException e = assertThrows(ExecutionException.class,
        () -> check.get(10, TimeUnit.SECONDS));
    assertTrue(e.getCause() instanceof InterruptedException, e.getCause().toString());
    ProcessHandle.of(commandPid).ifPresent(p -> p.onExit().join());
    assertTrue(ProcessHandle.of(commandPid).map(p -> !p.isAlive()).orElse(true),
        "the command was killed");
  }
}
