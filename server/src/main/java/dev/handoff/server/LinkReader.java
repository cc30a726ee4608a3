package dev.handoff.server;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Acknowledgement.Status;
import dev.handoff.common.Closeables;
import dev.handoff.common.Errors;
import dev.handoff.common.HandoffLink;
import dev.handoff.common.HandoffException;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.ReceivedHandoff;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads handoffs from one proxy link, gives each to the echo engine and answers it on the same
 * link: ADOPTED once the connection is registered with its event loop (answered from there),
 * RETRY when this process is at its connection cap or cannot take the descriptor now, REJECTED
 * for a descriptor it will never take. Runs on its own thread until the link closes ({@link
 * #run}), or is driven by a {@link LinkPoller} on an event loop ({@link #handle}, with the
 * answers of one burst written at once); closing the link never closes a connection received on
 * it.
 *
 * <p>An answer that cannot be written (the proxy closed the link, for instance after its ack
 * timeout while this process was stopped) changes nothing here: what arrived is served, and the
 * reader goes on reading what the proxy sent until the link ends, since a descriptor left unread
 * in the link would be closed with it and its client cut.
 */
final class LinkReader implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(LinkReader.class);
  /** How long closing the link waits for answers still being written by event loops. */
  private static final long ANSWER_WAIT_NANOS = TimeUnit.SECONDS.toNanos(2);

  private final HandoffLink link;
  private final ConnectionSink engine;
  private final ServerStats stats;
  private final int maxConnections;
  private final Runnable onClose;
  private final BiConsumer<HandoffLink, HandoffHeader> onTakeOver;
  /** Adopted connections whose registration, and so whose answer, is still to come. */
  private final AtomicInteger answersDue = new AtomicInteger();
  private volatile boolean answersLost;
  private boolean handedOver;
  /**
   * The thread whose answers go to {@link #batch} instead of straight to the link: a poller's
   * event loop while it handles one burst; {@code null} otherwise.
   */
  private volatile Thread batching;
  private final List<Acknowledgement> batch = new ArrayList<>();

  /**
   * @param onTakeOver given the link and the request when a successor asks to take over on it;
   *     the link is then its to close
   */
  LinkReader(HandoffLink link, ConnectionSink engine, ServerStats stats, int maxConnections,
      BiConsumer<HandoffLink, HandoffHeader> onTakeOver, Runnable onClose) {
    this.onTakeOver = onTakeOver;
    this.maxConnections = maxConnections;
    this.link = link;
    this.engine = engine;
    this.stats = stats;
    this.onClose = onClose;
  }

  @Override
  public void run() {
    try {
      while (readOne()) {
        // next message
      }
    } catch (IOException e) {
      log.warn("link from {} failed: {}", link.peer(), Errors.describe(e));
    } catch (RuntimeException | Error e) {
      log.error("link from {}: unexpected failure; closing the link", link.peer(), e);
    } finally {
      closeLink();
    }
  }

  /** Returns whether the link can carry on. */
  private boolean readOne() throws IOException {
    ReceivedHandoff handoff;
    try {
      handoff = link.receive();
    } catch (HandoffException e) {
      return refuse(e);
    }
    if (handoff == null) {
      log.info("link from {} closed", link.peer());
      return false;
    }
    return handle(handoff);
  }

  /**
   * Serves or refuses one message received whole, and answers it (or leaves the answer to the
   * event loop that registers the connection). A take-over request gives the link away.
   *
   * @return whether the link can carry on
   */
  boolean handle(ReceivedHandoff handoff) throws IOException {
    if (handoff.header().kind() == HandoffHeader.Kind.TAKEOVER) {
      handedOver = true;
      onTakeOver.accept(link, handoff.header());
      return false;
    }
    HandoffHeader header = handoff.header();
    long id = header.connectionId();
    if (header.kind() != HandoffHeader.Kind.CONNECTION
        && header.kind() != HandoffHeader.Kind.MIGRATED) {
      // A take-over's PREPARED, SWITCHED or DROPPED, which only a successor's own link carries.
      stats.refused("not-a-connection");
      handoff.close();
      log.warn("{}: a take-over message on a proxy link; refused", header);
      answer(new Acknowledgement(id, Status.REJECTED));
      return true;
    }
    if (engine.liveConnections() >= maxConnections) {
      // Refused before the process runs out of descriptors: at the limit the kernel would drop
      // a descriptor mid-message, and the link with it. The proxy still has its copy.
      stats.refused("at-capacity");
      handoff.close();
      log.debug("{}: {} connections open, the most allowed; answering RETRY", handoff,
          maxConnections);
      answer(new Acknowledgement(id, Status.RETRY));
      return true;
    }
    boolean taken;
    try {
      answersDue.incrementAndGet(); // before the sink can call back
      taken = engine.adopt(handoff, cause -> answerAdoption(header, cause));
    } catch (HandoffException e) {
      answersDue.decrementAndGet();
      return refuse(e);
    } catch (IOException | RuntimeException e) {
      answersDue.decrementAndGet();
      // I/O trouble may pass (RETRY); Netty refusing the descriptor will not (REJECTED).
      stats.refused("cannot-serve");
      log.warn("{}: cannot serve: {}", handoff, Errors.describe(e));
      answer(new Acknowledgement(id, e instanceof IOException ? Status.RETRY : Status.REJECTED));
      return true;
    } finally {
      handoff.close(); // nothing if the engine took it
    }
    if (!taken) {
      answersDue.decrementAndGet();
      stats.refused("duplicate");
      log.warn("{}: already served here on another descriptor; closing this one. The sender"
          + " delivered one connection twice", handoff);
      answer(new Acknowledgement(id, Status.ADOPTED)); // this app does own the connection
      return true;
    }
    return true;
  }

  /**
   * Answers once the event loop has the connection: only then is it served, and the proxy closes
   * its copy on ADOPTED. On an event loop; the proxy's window bounds the answers it has not read,
   * far below a socket buffer, so this write does not block.
   */
  private void answerAdoption(HandoffHeader header, Throwable cause) {
    try {
      long id = header.connectionId();
      if (cause != null) {
        // The engine closed its descriptor; the proxy still has its copy and may send it again.
        stats.refused("cannot-serve");
        log.warn("c{}: cannot register with an event loop: {}; answering RETRY", id,
            Errors.describe(cause));
        answer(new Acknowledgement(id, Status.RETRY));
        return;
      }
      answer(new Acknowledgement(id, Status.ADOPTED));
      if (header.kind() == HandoffHeader.Kind.MIGRATED) {
        stats.migratedIn.increment(); // its accept was long ago: not a handoff latency
        return;
      }
      long micros = nowMicros() - header.acceptedAtMicros();
      stats.adopted(micros);
      log.debug("{}: adopted {} us after the accept", header, micros);
    } finally {
      answersDue.decrementAndGet();
    }
  }

  /** A message refused as it was read; returns whether the link can carry on. */
  boolean refuse(HandoffException e) {
    stats.refused(e.reason().name());
    boolean goOn = e.reason().resynchronisable();
    if (e.reason() == HandoffException.Reason.CLIENT_GONE) {
      log.debug("{}", e.getMessage());
    } else {
      log.warn("refused a handoff from {} ({}): {}{}", link.peer(), e.reason(), e.getMessage(),
          goOn ? "" : "; closing the link, it cannot be resynchronised");
    }
    if (e.connectionId() != HandoffException.UNKNOWN_CONNECTION) {
      answer(new Acknowledgement(e.connectionId(),
          e.reason().retryable() ? Status.RETRY : Status.REJECTED));
    }
    return goOn;
  }

  /** Writes an answer; if the link no longer takes answers, says so once and carries on. */
  private void answer(Acknowledgement ack) {
    if (link.plain()) {
      return; // a plain sender reads nothing (docs/PROTOCOL.md, "Plain mode")
    }
    if (batching == Thread.currentThread()) {
      batch.add(ack);
      return;
    }
    try {
      link.sendAck(ack);
    } catch (IOException e) {
      lost(e, 1);
    }
  }

  private void lost(IOException e, int answers) {
    stats.answersLost.add(answers);
    if (!answersLost) {
      answersLost = true;
      log.info("cannot answer {} any more ({}); what it sent is still read and served",
          link.peer(), Errors.describe(e));
    }
  }

  /** From now on the calling thread's answers wait for {@link #endBatch}. */
  void beginBatch() {
    batching = Thread.currentThread();
  }

  /** Writes the answers held since {@link #beginBatch}, all in one write. */
  void endBatch() {
    batching = null;
    if (batch.isEmpty()) {
      return;
    }
    try {
      link.sendAcks(batch);
    } catch (IOException e) {
      lost(e, batch.size());
    } finally {
      batch.clear();
    }
  }

  /** Adopted connections whose answer is still to come from an event loop. */
  int answersDue() {
    return answersDue.get();
  }

  private static long nowMicros() {
    java.time.Instant now = java.time.Instant.now();
    return now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
  }

  private void closeLink() {
    long deadline = System.nanoTime() + ANSWER_WAIT_NANOS;
    while (answersDue.get() > 0 && System.nanoTime() - deadline < 0) {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
    }
    finishClose();
  }

  /**
   * Closes the link, unless a successor took it over, and says the reading is over; once, when
   * no answer is due any more (or the wait for them is over).
   */
  void finishClose() {
    if (!handedOver) {
      Closeables.closeQuietly(link);
    }
    onClose.run();
  }
}
