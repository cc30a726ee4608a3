package dev.handoff.proxy.upgrade;

import dev.handoff.common.Errors;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The listeners of one proxy process as an upgrade moves them: all together. The listening
 * sockets stay each {@link Listener}'s own (it closes them, and the duplicates it keeps while a
 * new proxy accepts); this class only says in which order they go and undoes a half-done step.
 */
final class ListenerGroup {
  private static final Logger log = LoggerFactory.getLogger(ListenerGroup.class);

  private final List<? extends Listener> servers;

  ListenerGroup(List<? extends Listener> servers) {
    if (servers.isEmpty() || servers.size() > ListenerValue.MAX_COUNT) {
      throw new IllegalArgumentException(servers.size() + " listeners");
    }
    this.servers = List.copyOf(servers);
  }

  /** The listeners, in the order of the configuration (and of the LISTENER messages). */
  List<? extends Listener> servers() {
    return servers;
  }

  /**
   * Stops accepting on every listener (see {@link Listener#stopAccepting}). All or none: if
   * one cannot stop, those already stopped accept again before this throws.
   */
  void stopAccepting() throws IOException, InterruptedException {
    List<Listener> stopped = new ArrayList<>();
    try {
      for (Listener server : servers) {
        server.stopAccepting();
        stopped.add(server);
      }
    } catch (IOException | RuntimeException e) {
      resume(stopped);
      throw e;
    }
  }

  /**
   * Accepts again on every listener's kept duplicate. Tries them all; each that cannot is logged
   * here, once.
   *
   * @return how many listeners could not accept again
   */
  int resumeAccepting() {
    return resume(servers);
  }

  private static int resume(List<? extends Listener> which) {
    int failed = 0;
    for (Listener server : which) {
      try {
        server.resumeAccepting();
      } catch (IOException | RuntimeException e) {
        failed++;
        log.error("listener {} cannot accept again: {}", server.address(), Errors.describe(e));
      }
    }
    return failed;
  }

  /** Whether no listener holds an accepted connection any more. */
  boolean settled() {
    return servers.stream().allMatch(Listener::settled);
  }
}
