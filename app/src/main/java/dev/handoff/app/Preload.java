package dev.handoff.app;

import dev.handoff.server.HandoffServerBootstrap;
import java.util.concurrent.CountDownLatch;
import org.slf4j.LoggerFactory;

/**
 * The part of the app's start that does not depend on its command line, begun on a thread of its
 * own as {@code main} starts: logback's set-up, then the transport ({@link
 * HandoffServerBootstrap#preload()}: Netty's epoll transport, junixsocket, the server's classes),
 * while the main thread has picocli read the command line. Each took a few hundred milliseconds of
 * a successor's start ({@code app --take-over}), one after the other on the main thread; on a
 * machine whose cores are busy, two threads also get the CPU twice as often as one.
 *
 * <p>The main thread must {@link #awaitLogging} before it logs: while one thread sets SLF4J up,
 * another that asks for a logger gets a stand-in, not logback's.
 */
final class Preload {
  /** For a command made without {@link #begin()} (tests): logging is set up on first use. */
  static final Preload NONE = new Preload();

  private final CountDownLatch logging = new CountDownLatch(1);

  private Preload() {}

  /** Starts the preloading thread (a daemon: it never holds the JVM up). */
  static Preload begin() {
    Preload preload = new Preload();
    Thread thread = new Thread(preload::run, "preload");
    thread.setDaemon(true);
    thread.start();
    return preload;
  }

  private void run() {
    try {
      LoggerFactory.getILoggerFactory();
    } finally {
      logging.countDown();
    }
    HandoffServerBootstrap.preload();
  }

  /** Returns once logback is set up (at once for {@link #NONE}). */
  void awaitLogging() {
    if (this == NONE) {
      return;
    }
    boolean interrupted = false;
    while (true) {
      try {
        logging.await();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
