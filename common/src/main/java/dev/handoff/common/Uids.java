package dev.handoff.common;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/** The uids a process trusts by default at the other end of a link: its own, and root. */
public final class Uids {
  private Uids() {}

  /** This process's uid, read from the owner of /proc/self (no JDK API gives it). */
  public static int self() {
    try {
      return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    } catch (IOException e) {
      throw new IllegalStateException("cannot read this process's uid from /proc/self", e);
    }
  }

  public static Set<Integer> selfAndRoot() {
    int me = self();
    return me == 0 ? Set.of(0) : Set.of(me, 0);
  }
}
