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
 * copy once the successor has adopted it. Then the process shuts down. If the successor dies
 * during the move, the connections it did not adopt are served here again and the process stays
 * up for them.
 */
final class Handover implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(Handover.class);

  private final HandoffChannel successor;
  private final AppServer server;
  private final EchoEngine engine;
  private final Runnable done;
  /** Sent to the successor, not yet answered. */
  private final Map<Long, Detached> inFlight = new ConcurrentHashMap<>();
  /** Taken off their event loop but not sent: served here again if the move stops. */
  private final List<Detached> notSent = new ArrayList<>();
  private final CountDownLatch answersDone = new CountDownLatch(1);

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
      int kept = settleTheRest();
      closeQuietly();
      log.info("handed {} connections over in {} ms", moved,
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
      if (kept == 0) {
        done.run();
      } else {
        log.error("take-over incomplete: {} connections stay with this app, which serves them"
            + " until they close or it gets SIGTERM; new connections go to whichever app binds {}",
            kept, "the socket path");
      }
    }
  }

  /**
   * Connections never sent are served here again. Sent ones still unanswered: if the link broke,
   * the successor is gone and with it its copies, so they are served here again; if it merely
   * stopped answering, it may own them, and two apps must never read one socket, so this app's
   * copies are closed.
   */
  private int settleTheRest() {
    int kept = notSent.size();
    notSent.forEach(d -> engine.resume(d.channel()));
    boolean linkBroke = answersDone.getCount() == 0;
    for (Long id : inFlight.keySet()) {
      Detached d = inFlight.remove(id); // whoever removes it settles it: here or the reader
      if (d == null) {
        continue;
      }
      if (linkBroke) {
        engine.resume(d.channel());
        kept++;
      } else {
        d.channel().close();
      }
    }
    return kept;
  }

  private int moveConnections() throws IOException, InterruptedException {
    Thread answers = new Thread(this::readAnswers, "handover-acks");
    answers.setDaemon(true);
    answers.start();
    // Pause every connection at once (each on its own event loop), then send them in turn: the
    // whole move takes about as long as the sends, not as long as 2 x N event-loop hops.
    List<CompletableFuture<Detached>> detaching = new ArrayList<>();
    for (EpollSocketChannel channel : engine.connections()) {
      detaching.add(ConnectionDetacher.detach(channel));
    }
    for (CompletableFuture<Detached> future : detaching) {
      try {
        Detached d = future.get(10, TimeUnit.SECONDS);
        if (d != null) { // null: closing, it finishes here
          notSent.add(d);
        }
      } catch (ExecutionException | TimeoutException e) {
        log.warn("cannot detach a connection: {}", Errors.describe(e));
      }
    }
    long seq = 0;
    int moved = 0;
    while (!notSent.isEmpty()) {
      Detached d = notSent.get(0);
      // Ids the successor answers by: a proxy's ids are unique only per proxy.
      HandoffHeader h = d.header();
      HandoffHeader numbered = new HandoffHeader(++seq, h.acceptedAtMicros(), h.client(),
          h.local());
      inFlight.put(seq, d);
      notSent.remove(0);
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
  private void readAnswers() {
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
      answersDone.countDown();
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
