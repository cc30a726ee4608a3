package dev.handoff.server;

import dev.handoff.server.ConnectionDetacher.Detached;
import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Acknowledgement.Status;
import dev.handoff.common.Errors;
import dev.handoff.common.HandoffLink;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.internal.JdkNioInternals;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running app's side of a take-over (docs/PROTOCOL.md, "Taking over from a running app"):
 * stop taking handoffs and free the socket path; wait until the successor says it has bound the
 * path; then move every established connection to it, each with the bytes read from its client and
 * not yet echoed (half-closed ones too: the client's end of file stays with the socket), and close
 * this app's copy once the successor has adopted it. Then the process shuts down.
 *
 * <p>If the successor dies or gives up at any point, this app serves everything it did not hand
 * over (connections never sent, and sent ones the successor did not adopt before its link broke),
 * binds the socket path again and takes handoffs as before: no client is cut and proxies re-link.
 */
final class Handover implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(Handover.class);
  /** How long a successor may take to bind the freed path and say so. */
  static final Duration READY_TIMEOUT = Duration.ofSeconds(10);
  /** How long a successor may take to answer the last connection sent. */
  static final Duration ANSWER_TIMEOUT = Duration.ofSeconds(30);

  private final HandoffLink successor;
  private final HandoverSite site;
  private final Runnable done;
  private final Duration readyTimeout;
  private final Duration answerTimeout;
  /** Sent to the successor, not yet answered. */
  private final Map<Long, Detached> inFlight = new ConcurrentHashMap<>();
  /** Taken off their event loop but not sent: served here again if the move stops. */
  private final List<Detached> notSent = new ArrayList<>();
  /** The successor has bound the socket path: connections may go to it. */
  private final CountDownLatch ready = new CountDownLatch(1);
  private final CountDownLatch answersDone = new CountDownLatch(1);
  /** Connections the successor answered RETRY or REJECTED for: served here again. */
  private final AtomicInteger refusedBySuccessor = new AtomicInteger();
  /** Connections not moved: closing, or their state cannot move. They finish here. */
  private int stayed;
  /** When the successor said it had bound the path (System.nanoTime), for the first-move log. */
  private volatile long readyAt;
  /** The successor has adopted a first moved connection (logged once). */
  private boolean firstAdopted;

  /**
   * @param successor the link the take-over request came on; this object owns it from now on
   * @param done called once everything is handed over: the process then shuts down as on SIGTERM
   */
  Handover(HandoffLink successor, HandoverSite site, Runnable done) {
    this(successor, site, done, READY_TIMEOUT, ANSWER_TIMEOUT);
  }

  /** As above, with the timeouts given (tests). */
  Handover(HandoffLink successor, HandoverSite site, Runnable done, Duration readyTimeout,
      Duration answerTimeout) {
    this.successor = successor;
    this.site = site;
    this.done = done;
    this.readyTimeout = readyTimeout;
    this.answerTimeout = answerTimeout;
  }

  @Override
  public void run() {
    log.info("{} asks to take over: handing everything over", successor.peer());
    long start = System.nanoTime();
    int moved = 0;
    boolean readyToMove = false;
    String failure = null;
    try {
      site.stopTakingHandoffs(successor);
      Thread answers = new Thread(this::readAnswers, "handover-acks");
      answers.setDaemon(true);
      answers.start();
      // The socket path is free now; the successor binds it, and proxies re-link to it.
      successor.sendAck(new Acknowledgement(0, Status.ADOPTED));
      readyToMove = awaitReady();
      if (!readyToMove) {
        failure = answersDone.getCount() == 0 ? "it went away before binding the socket path"
            : "it did not bind the socket path within " + readyTimeout.toMillis() + " ms";
      } else {
        moved = moveConnections();
      }
    } catch (IOException | RuntimeException e) {
      failure = Errors.describe(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      failure = "interrupted";
    } finally {
      boolean linkBroke = awaitLinkEnd(failure != null);
      int kept = settleTheRest(linkBroke) + refusedBySuccessor.get();
      closeLink();
      log.info("handed {} connections over in {} ms", moved,
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
      if (failure == null && kept == 0) {
        done.run();
      } else {
        log.warn("take-over by {} did not complete ({}); {} connections stay here", successor.peer(),
            failure == null ? "it did not adopt every connection" : failure, kept);
        if (!site.resumeTakingHandoffs()) {
          log.error("take-over incomplete: {} connections stay with this app, which serves them"
              + " until they close or it gets SIGTERM; new connections go to the app that holds"
              + " the socket path", kept);
        }
      }
    }
  }

  /** Waits for the successor's "bound" answer; false if it went away or took too long. */
  private boolean awaitReady() throws InterruptedException {
    long deadline = System.nanoTime() + readyTimeout.toNanos();
    while (System.nanoTime() - deadline < 0) {
      if (ready.await(20, TimeUnit.MILLISECONDS)) {
        return true;
      }
      if (answersDone.getCount() == 0) {
        return false;
      }
    }
    return false;
  }

  /**
   * Connections never sent are served here again. Sent ones still unanswered: if the link broke,
   * the successor is gone and with it its copies, so they are served here again; if it merely
   * stopped answering, it may own them, and two apps must never read one socket, so this app's
   * copies are closed.
   *
   * @return how many connections stay with this app
   */
  private int settleTheRest(boolean linkBroke) {
    int kept = notSent.size();
    notSent.forEach(site::resume);
    notSent.clear();
    for (Long id : inFlight.keySet()) {
      Detached d = inFlight.remove(id); // whoever removes it settles it: here or the reader
      if (d == null) {
        continue;
      }
      if (linkBroke) {
        site.resume(d);
        kept++;
      } else {
        log.warn("m{}: the successor did not answer; closing this app's copy, it may own it", id);
        site.release(d);
      }
    }
    return kept;
  }

  private int moveConnections() throws IOException, InterruptedException {
    // Pause every connection at once (each on its own event loop), then send them in turn: the
    // whole move takes about as long as the sends, not as long as 2 x N event-loop hops.
    for (CompletableFuture<Detached> future : site.detachAll()) {
      try {
        Detached d = future.get(10, TimeUnit.SECONDS);
        if (d != null) {
          notSent.add(d);
        } else {
          stayed++; // closed meanwhile, or its state cannot move: it finishes here
        }
      } catch (ExecutionException | TimeoutException e) {
        log.warn("cannot detach a connection: {}", Errors.describe(e));
      }
    }
    if (stayed > 0) {
      log.info("{} connections stay here to finish: their pipelines carry state that cannot move"
          + " (no MigratableHandler, and not declared stateless) or they were closing", stayed);
    }
    long seq = 0;
    int sent = 0;
    while (!notSent.isEmpty()) {
      Detached d = notSent.get(0);
      // Ids the successor answers by: a proxy's ids are unique only per proxy.
      HandoffHeader h = d.header();
      HandoffHeader numbered = new HandoffHeader(++seq, h.acceptedAtMicros(), h.client(),
          h.local(), h.origin());
      inFlight.put(seq, d);
      notSent.remove(0);
      log.debug("moving {} as m{} with {} unsent bytes", h, seq, d.pending().length);
      // If this fails, the connection stays in flight: settled once the link's end is known.
      successor.sendMigrated(numbered, JdkNioInternals.borrow(d.fd()), d.pending(), d.state());
      sent++;
    }
    long deadline = System.nanoTime() + answerTimeout.toNanos();
    while (!inFlight.isEmpty() && answersDone.getCount() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    return sent - inFlight.size();
  }

  /**
   * Whether the successor's side of the link has ended. After a failure this first asks it to
   * finish (end of stream) and waits briefly: until its side closes, an unanswered connection may
   * still be adopted there, so only a link known to be broken makes the unanswered ones safe to
   * serve here again. A successor that neither answers nor closes may own them.
   */
  private boolean awaitLinkEnd(boolean failed) {
    if (failed) {
      try {
        successor.shutdownOutput();
      } catch (IOException e) {
        // already broken: the reader sees it
      }
      try {
        answersDone.await(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    return answersDone.getCount() == 0;
  }

  private void closeLink() {
    try {
      successor.close();
    } catch (IOException e) {
      // gone either way
    }
  }

  /** Closes this app's copy of each connection the successor adopted. */
  private void readAnswers() {
    try {
      Acknowledgement ack;
      while ((ack = successor.receiveAck()) != null) {
        if (ack.connectionId() == 0) {
          if (ack.status() == Status.ADOPTED) {
            log.info("{} has bound the socket path; moving the connections", successor.peer());
            readyAt = System.nanoTime();
            ready.countDown();
          }
          continue;
        }
        Detached d = inFlight.remove(ack.connectionId());
        if (d == null) {
          log.warn("successor answered unknown m{}", ack.connectionId());
        } else if (ack.status() == Status.ADOPTED) {
          site.release(d);
          if (!firstAdopted) {
            firstAdopted = true; // only this thread reads answers
            log.info("m{}: the first connection moved, adopted by the successor {} ms after it"
                + " bound the socket path", ack.connectionId(),
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - readyAt));
          }
        } else {
          log.warn("successor answered {} for m{}; serving it here", ack.status(),
              ack.connectionId());
          refusedBySuccessor.incrementAndGet();
          site.resume(d);
        }
      }
    } catch (IOException e) {
      log.info("link to successor {}: {}", successor.peer(), Errors.describe(e));
    } finally {
      answersDone.countDown();
    }
  }
}
