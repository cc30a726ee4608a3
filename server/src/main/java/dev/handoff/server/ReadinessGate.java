package dev.handoff.server;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Acknowledgement.Status;
import dev.handoff.common.Errors;
import dev.handoff.common.HandoffLink;
import java.io.IOException;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A successor's readiness gate ({@link HandoffServerBootstrap#readiness}): runs the check on a
 * thread of its own while the take-over's thread reads the link, and says "bound" to the previous
 * app only once the check has returned. If the check fails, it shuts the link's input, so that the
 * reader sees the end and rolls the take-over back (frees the path, ends the link); the previous
 * app, still serving everything, then binds the path again.
 */
final class ReadinessGate implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ReadinessGate.class);
  private final Callable<?> check;
  private final HandoffLink link;
  private final String holding;
  private final Thread thread;
  /** Why this app is not ready; null while the check runs, or once it passed. */
  private volatile String failure;
  private volatile boolean closed;

  private ReadinessGate(Callable<?> check, HandoffLink link, String holding) {
    this.check = check;
    this.link = link;
    this.holding = holding;
    this.thread = new Thread(this::run, "takeover-readiness");
    thread.setDaemon(true);
  }

  /**
   * Starts the check.
   *
   * @param holding what this app does with the moved connections, for the log
   */
  static ReadinessGate open(Callable<?> check, HandoffLink link, String holding) {
    ReadinessGate gate = new ReadinessGate(check, link, holding);
    gate.thread.start();
    return gate;
  }

  /** Why this app is not ready, or null (the check runs still, or it passed). */
  String failure() {
    return failure;
  }

  private void run() {
    long start = System.nanoTime();
    try {
      check.call();
    } catch (Exception | Error e) {
      if (closed) {
        return; // the take-over ended meanwhile: nobody waits for this answer
      }
      failure = e instanceof InterruptedException ? "its readiness check was interrupted"
          : "its readiness check failed: " + Errors.describe(e);
      log.warn("not ready: {}; rolling the take-over back", failure);
      try {
        link.shutdownInput(); // the take-over's reader sees the end and rolls back
      } catch (IOException gone) {
        // the link is gone already: the reader sees that too
      }
      return;
    }
    try {
      link.sendAck(new Acknowledgement(0, Status.ADOPTED)); // bound and ready: send them
      log.info("ready ({} ms after binding the socket path); {} the connections the previous app"
          + " moves", (System.nanoTime() - start) / 1_000_000, holding);
    } catch (IOException e) {
      // The previous app gave up waiting (rolled back): the reader sees the link end.
      log.warn("ready, but the previous app no longer waits: {}", Errors.describe(e));
    }
  }

  /** Interrupts a check still running: the take-over it gates is over. */
  @Override
  public void close() {
    closed = true;
    thread.interrupt();
  }
}
