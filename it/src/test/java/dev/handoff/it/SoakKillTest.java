package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** How SoakIT tells a connection cut by an app's kill from a failure (times in ns). */
class SoakKillTest {
  private final SoakIT.Kill kill = new SoakIT.Kill(1_000, 5_000);

  @Test
  void aConnectionBegunAfterTheSignalWasDueButBeforeTheAppWasGoneMayHaveBeenCut() {
    // The test's thread took the time, lost its core, and sent the signal later: meanwhile a
    // client connected and the app, still running, took its connection.
    assertTrue(kill.mayHaveCut(2_000, 80_000));
  }

  @Test
  void aConnectionOpenAcrossTheKillMayHaveBeenCut() {
    assertTrue(kill.mayHaveCut(500, 3_000));
    assertTrue(kill.mayHaveCut(500, 9_000));
  }

  @Test
  void aConnectionOverBeforeTheKillOrBegunAfterTheAppWasGoneWasNotCutByIt() {
    assertFalse(kill.mayHaveCut(100, 900));
    assertFalse(kill.mayHaveCut(5_001, 9_000));
  }
}
