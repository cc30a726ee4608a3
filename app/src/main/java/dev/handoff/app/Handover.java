package dev.handoff.app;

import dev.handoff.app.ConnectionDetacher.Detached;
import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Acknowledgement.Status;
import dev.handoff.common.Errors;
import dev.handoff.common.HandoffChannel;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.JdkNioInternals;
import io.netty.channel.epoll.EpollSocketChannel;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running app's side of a take-over (docs/PROTOCOL.md, "Taking over from a running app"):
 * stop taking handoffs and free the socket path, then move every established connection to the
 * successor, each with the bytes read from its client and not yet echoed, and close this app's
 * copy once the successor has adopted it. A connection whose move fails is served here again.
 */
final class Handover implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(Handover.class);

  private final HandoffChannel successor;
  private final AppServer server;
  private final EchoEngine engine;
  private final Runnable done;
  private final Map<Long, Detached> inFlight = new ConcurrentHashMap<>();

  /**
   * @param successor the link the take-over request came on; this object owns it from now on
   * @param done called at the end, whatever happened: the process then shuts down as on SIGTERM
   */
  Handover(HandoffChannel successor, AppServer server, EchoEngine engine, Runnable done) {
    this.successor = successor;
    this.server = server;
    this.engine = engine;
    this.done = done;
  }

  @Override
  public void run() {
    log.info("{} asks to take over: handing everything over", successor.peer());
    long start = System.nanoTime();
    int moved = 0;
    try {
      server.stopTakingHandoffs(successor);
      // The socket path is free now; the successor binds it, and proxies re-link to it.
      successor.sendAck(new Acknowledgement(0, Status.ADOPTED));
      moved = moveConnections();
    } catch (IOException | RuntimeException e) {
      log.error("take-over by {} failed: {}; serving what is left here", successor.peer(),
          Errors.describe(e));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      for (Detached d : inFlight.values()) {
        engine.resume(d.channel()); // never answered: keep serving it here
      }
      closeQuietly();
      log.info("handed {} connections over in {} ms", moved,
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
      done.run();
    }
  }

  private int moveConnections() throws IOException, InterruptedException {
    CountDownLatch answersDone = new CountDownLatch(1);
    Thread answers = new Thread(() -> readAnswers(answersDone), "handover-acks");
    answers.setDaemon(true);
    answers.start();
    // Pause every connection at once (each on its own event loop), then send them in turn: the
    // whole move takes about as long as the sends, not as long as 2 x N event-loop hops.
    List<CompletableFuture<Detached>> detaching = new ArrayList<>();
    for (EpollSocketChannel channel : engine.connections()) {
      detaching.add(ConnectionDetacher.detach(channel));
    }
    long seq = 0;
    int moved = 0;
    for (CompletableFuture<Detached> future : detaching) {
      Detached d;
      try {
        d = future.get(10, TimeUnit.SECONDS);
      } catch (ExecutionException | TimeoutException e) {
        log.warn("cannot detach a connection: {}", Errors.describe(e));
        continue;
      }
      if (d == null) {
        continue; // closing: it finishes here
      }
      // Ids the successor answers by: a proxy's ids are unique only per proxy.
      HandoffHeader h = d.header();
      HandoffHeader numbered = new HandoffHeader(++seq, h.acceptedAtMicros(), h.client(),
          h.local());
      inFlight.put(seq, d);
      log.debug("moving {} as m{} with {} unsent bytes", h, seq, d.pending().length);
      successor.sendMigrated(numbered, JdkNioInternals.borrow(d.fd()), d.pending());
      moved++;
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!inFlight.isEmpty() && answersDone.getCount() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    return moved - inFlight.size();
  }

  /** Closes this app's copy of each connection the successor adopted. */
  private void readAnswers(CountDownLatch finished) {
    try {
      Acknowledgement ack;
      while ((ack = successor.receiveAck()) != null) {
        Detached d = inFlight.remove(ack.connectionId());
        if (d == null) {
          log.warn("successor answered unknown m{}", ack.connectionId());
        } else if (ack.status() == Status.ADOPTED) {
          d.channel().close(); // close(2) on this copy; the successor's copy stays connected
        } else {
          log.warn("successor answered {} for m{}; serving it here", ack.status(),
              ack.connectionId());
          engine.resume(d.channel());
        }
        if (inFlight.isEmpty() && Thread.currentThread().isInterrupted()) {
          return;
        }
      }
    } catch (IOException e) {
      log.warn("link to successor {}: {}", successor.peer(), Errors.describe(e));
    } finally {
      finished.countDown();
    }
  }

  private void closeQuietly() {
    try {
      successor.close();
    } catch (IOException e) {
      // gone either way
    }
  }
}
