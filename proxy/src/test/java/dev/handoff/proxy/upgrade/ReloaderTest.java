package dev.handoff.proxy.upgrade;

import dev.handoff.proxy.accept.SocketActivation;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The successor's command line (the processes themselves: SignalsIT, ConfigFileIT). */
class ReloaderTest {
  @Test
  void theSuccessorRunsTheLauncherWithTheSameArgumentsAndTakeOver() {
    assertEquals(List.of("/opt/handoff/bin/launch.sh", "proxy", "--control", "/run/p.ctl", "1987",
        "/run/pipe.sock", "--take-over"), Reloader.command("/opt/handoff/bin/launch.sh",
            List.of("--control", "/run/p.ctl", "1987", "/run/pipe.sock")));
  }

  @Test
  void aSuccessorsOwnSuccessorDoesNotRepeatTakeOver() {
    List<String> args = List.of("--config", "p.yaml", "--control", "p.ctl", "--take-over");
    List<String> command = Reloader.command("launch.sh", args);
    assertEquals(1, command.stream().filter("--take-over"::equals).count(), command.toString());
  }

  @Test
  void theSocketActivationVariablesAreNotPassedOn() {
    assertTrue(Reloader.DROPPED_ENV.containsAll(List.of("LISTEN_FDS", "LISTEN_PID",
        "LISTEN_FDNAMES", SocketActivation.MARKER)));
  }
}
