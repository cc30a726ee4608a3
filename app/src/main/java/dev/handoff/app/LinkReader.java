package dev.handoff.app;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Acknowledgement.Status;
import dev.handoff.common.Errors;
import dev.handoff.common.HandoffChannel;
import dev.handoff.common.HandoffException;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.ReceivedHandoff;
import java.io.IOException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads handoffs from one proxy link, gives each to the echo engine and answers it on the same
 * link: ADOPTED once the engine owns the connection, RETRY when this process is out of descriptors,
 * REJECTED for a descriptor it will never take. Runs on its own thread until the link closes;
 * closing the link never closes a connection received on it.
 */
final class LinkReader implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(LinkReader.class);

  private final HandoffChannel link;
  private final EchoEngine engine;
  private final AppStats stats;
  private final int maxConnections;
  private final Runnable onClose;
  private final Consumer<HandoffChannel> onTakeOver;
  private boolean handedOver;

  /**
   * @param onTakeOver given the link when a successor asks to take over on it; the link is then
   *     its to close
   */
  LinkReader(HandoffChannel link, EchoEngine engine, AppStats stats, int maxConnections,
      Consumer<HandoffChannel> onTakeOver, Runnable onClose) {
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
      log.warn("link from {} failed: {}", link.peer(), e.getMessage());
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
    if (handoff.header().kind() == HandoffHeader.Kind.TAKEOVER) {
      handedOver = true;
      onTakeOver.accept(link);
      return false;
    }
    long id = handoff.header().connectionId();
    if (engine.liveConnections() >= maxConnections) {
      // Refused before the process runs out of descriptors: at the limit the kernel would drop
      // a descriptor mid-message, and the link with it. The proxy still has its copy.
      stats.refused("at-capacity");
      handoff.close();
      log.debug("{}: {} connections open, the most allowed; answering RETRY", handoff,
          maxConnections);
      link.sendAck(new Acknowledgement(id, Status.RETRY));
      return true;
    }
    try {
      engine.adopt(handoff);
    } catch (HandoffException e) {
      return refuse(e);
    } catch (IOException | RuntimeException e) {
      // I/O trouble may pass (RETRY); Netty refusing the descriptor will not (REJECTED).
      stats.refused("cannot-serve");
      log.warn("{}: cannot serve: {}", handoff, Errors.describe(e));
      link.sendAck(new Acknowledgement(id,
          e instanceof IOException ? Status.RETRY : Status.REJECTED));
      return true;
    } finally {
      handoff.close();
    }
    // Answer only once the engine owns it: the proxy closes its copy on this answer.
    link.sendAck(new Acknowledgement(id, Status.ADOPTED));
    if (handoff.header().kind() == HandoffHeader.Kind.MIGRATED) {
      stats.migratedIn.increment(); // its accept was long ago: not a handoff latency
      return true;
    }
    long micros = nowMicros() - handoff.header().acceptedAtMicros();
    stats.adopted(micros);
    log.debug("{}: adopted {} us after the accept", handoff, micros);
    return true;
  }

  private boolean refuse(HandoffException e) throws IOException {
    stats.refused(e.reason().name());
    boolean goOn = e.reason().resynchronisable();
    log.warn("refused a handoff from {} ({}): {}{}", link.peer(), e.reason(), e.getMessage(),
        goOn ? "" : "; closing the link, it cannot be resynchronised");
    if (e.connectionId() != HandoffException.UNKNOWN_CONNECTION) {
      link.sendAck(new Acknowledgement(e.connectionId(),
          e.reason().retryable() ? Status.RETRY : Status.REJECTED));
    }
    return goOn;
  }

  private static long nowMicros() {
    java.time.Instant now = java.time.Instant.now();
    return now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
  }

  private void closeLink() {
    if (!handedOver) {
      try {
        link.close();
      } catch (IOException e) {
        // gone either way
      }
    }
    onClose.run();
  }
}
