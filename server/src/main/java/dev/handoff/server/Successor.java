package dev.handoff.server;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Acknowledgement.Status;
import dev.handoff.common.Errors;
import dev.handoff.common.HandoffChannel;
import dev.handoff.common.HandoffException;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.HandoffLink;
import dev.handoff.common.ReceivedHandoff;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The new app's side of a take-over: ask the app running at the socket path to hand over, and
 * wait until it has freed the path ({@link #requestTakeOver}). The caller then binds the path and
 * {@link #receiveMoved receives the moved connections}: it holds each one, serving none, until the
 * old app's COMMIT; only then are they all served here. If the link ends before COMMIT the old app
 * has rolled back (or died): every copy held here is closed, and the caller frees the path.
 *
 * <p>One take-over at a time: an app that is already handing over answers REJECTED.
 */
final class Successor {
  private static final Logger log = LoggerFactory.getLogger(Successor.class);
  /** What the errors of a take-over that met another one under way say to do. */
  static final String ANOTHER =
      "if another take-over is under way, the app that wins it will be there";
  /**
   * The connection id of the old app's "the path is yours" answer (ADOPTED) when it will commit
   * the move with a COMMIT; an app from before COMMIT answers with connection id 0.
   */
  static final long COMMIT_FOLLOWS = 1;
  /**
   * The connection id of a TAKEOVER request that asks for a two-phase move, and of the old app's
   * "the path is yours" answer that agrees to one (docs/PROTOCOL.md): copies of the descriptors
   * first, while the old app serves on, then the switch. An app from before two-phase moves
   * ignores the request's id and answers {@link #COMMIT_FOLLOWS} (or 0).
   */
  static final long TWO_PHASE = 2;
  /**
   * A bit of a TAKEOVER request's accepted-at field, which carries the new app's capabilities
   * (docs/PROTOCOL.md): it reads COPIES and SWITCHES messages, several connections of a two-phase
   * move's first or second phase in one. An app from before them sends 0 there, and one that does
   * not know them ignores the field.
   */
  static final long READS_BATCHES = 1;
  /**
   * The system property that, set to {@code true} on the new app, makes it ask for the one-phase
   * move (each connection paused just before its own move, as before two-phase moves): a fallback,
   * and the way to compare the two (docs/UPGRADES.md).
   */
  static final String ONE_PHASE_PROPERTY = "handoff.takeOver.onePhase";

  /**
   * The link to the app being taken over, which has freed the socket path.
   *
   * @param commits whether it commits the move with a COMMIT; if not (an app from before COMMIT),
   *     each connection is its successor's as soon as it is answered ADOPTED
   * @param twoPhase whether it moves the connections in two phases (copies, then the switch)
   */
  record Predecessor(HandoffLink link, boolean commits, boolean twoPhase) implements Closeable {
    Predecessor(HandoffLink link, boolean commits) {
      this(link, commits, false);
    }

    @Override
    public void close() throws IOException {
      link.close();
    }
  }

  private Successor() {}

  /**
   * @return the link to the running app, once that app has stopped taking handoffs and removed
   *     its socket file
   * @throws IOException if no app runs there, or it refused
   */
  static Predecessor requestTakeOver(Path socket, Duration timeout) throws IOException {
    HandoffChannel link;
    try {
      link = HandoffChannel.connect(socket, true);
    } catch (IOException e) {
      throw new IOException("no app is listening at " + socket + " to take over from ("
          + Errors.describe(e) + "); " + ANOTHER, e);
    }
    try {
      InetSocketAddress none = new InetSocketAddress(0);
      try {
        // Asks for a two-phase move; an app from before them reads the request as ever.
        long asked = Boolean.getBoolean(ONE_PHASE_PROPERTY) ? 0 : TWO_PHASE;
        if (asked == 0) {
          log.info("{}=true: asking for the one-phase move", ONE_PHASE_PROPERTY);
        }
        link.send(new HandoffHeader(asked, asked == TWO_PHASE ? READS_BATCHES : 0, none, none,
            HandoffHeader.Kind.TAKEOVER, 0), null);
      } catch (IOException e) {
        // Connected to a listening socket that its app closed before accepting: it was handing
        // over to another successor at that moment.
        throw new IOException("the app at " + socket + " closed the link before it took the"
            + " take-over request (" + Errors.describe(e) + "); " + ANOTHER, e);
      }
      Acknowledgement answer = receiveWithin(link, timeout);
      if (answer != null && answer.connectionId() == 0 && answer.status() == Status.REJECTED) {
        throw new IOException("the app at " + socket + " is already being taken over, or is"
            + " itself still taking over; try again when that has finished");
      }
      if (answer == null) {
        throw new IOException("the app at " + socket + " closed the link without answering the"
            + " take-over request; " + ANOTHER);
      }
      if (answer.connectionId() == 0 && answer.status() == Status.CLOSING) {
        // The app accepted this link just before it began closing: it is handing over to another
        // successor (or shutting down) and answers CLOSING on every link it has, this one too.
        throw new IOException("the app at " + socket + " is closing (it answered CLOSING to the"
            + " take-over request); " + ANOTHER);
      }
      boolean twoPhase = answer.connectionId() == TWO_PHASE;
      boolean commits = answer.connectionId() == COMMIT_FOLLOWS || twoPhase;
      if ((answer.connectionId() != 0 && !commits) || answer.status() != Status.ADOPTED) {
        throw new IOException("the app at " + socket + " did not agree to hand over ("
            + answer.status() + ")");
      }
      if (!commits) {
        log.warn("the app at {} is of a revision that does not commit the move: each connection"
            + " is served here as it arrives, and one that dies mid-move takes those with it",
            socket);
      }
      return new Predecessor(link, commits, twoPhase);
    } catch (IOException e) {
      link.close();
      throw e;
    }
  }

  /** Waits for the answer; a watchdog closes the link if it takes longer than {@code timeout}. */
  private static Acknowledgement receiveWithin(HandoffChannel link, Duration timeout)
      throws IOException {
    Thread watchdog = new Thread(() -> {
      try {
        Thread.sleep(timeout.toMillis());
        link.close();
      } catch (InterruptedException | IOException e) {
        // answered in time
      }
    }, "takeover-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
    try {
      return link.receiveAck();
    } catch (IOException e) {
      throw new IOException("no answer to the take-over request within " + timeout.toSeconds()
          + " s (" + Errors.describe(e) + ")", e);
    } finally {
      watchdog.interrupt();
    }
  }

  /**
   * Says "bound" on the link to the previous app (once {@code readiness} has returned), then holds every MIGRATED connection it sends
   * (the descriptor open, nothing read or written) and answers each ADOPTED ("held"), or RETRY
   * (at {@code maxConnections}) or REJECTED (a message that is not a moved connection), which
   * makes the previous app roll back. On COMMIT (a TAKEOVER message from the previous app) every
   * held connection goes to {@code sink}, which serves it from then on; the link is then closed.
   *
   * <p>Ownership: every descriptor received is closed here exactly once, unless the sink took it.
   *
   * <p>From a predecessor that does not commit (of a revision from before COMMIT), each
   * connection is served as soon as it arrives, and the end of the link ends the move.
   *
   * @param predecessor what {@link #requestTakeOver} returned; its link is closed by this method
   *     in every case
   * @param path the socket path this app has bound: closed (freed) on a rollback before the link
   *     is, since the previous app binds the path again once it sees the link end
   * @param readiness what must return before "bound" is said (see {@link ReadinessGate}); null:
   *     said at once
   * @return how many connections the sink took
   * @throws IOException if the link ended or failed before COMMIT: the take-over was rolled back,
   *     every connection held here is closed and {@code path} freed
   */
  static int receiveMoved(Predecessor predecessor, ConnectionSink sink, int maxConnections,
      Closeable path, Callable<?> readiness) throws IOException {
    LongAdder served = new LongAdder();
    receiveMoved(predecessor, sink, maxConnections, path, readiness, served).start(null);
    return served.intValue();
  }

  /**
   * As {@link #receiveMoved(Predecessor, ConnectionSink, int, Closeable, Callable)}, but the
   * connections a COMMIT moves here are returned, busiest first, for the caller to give to the
   * sink ({@link MovedIn#start}), which it may do a slice at a time.
   *
   * @param served counts each connection the sink takes, those served as they arrive from a
   *     predecessor that does not commit included
   * @return the connections the commit moved here, owned by the caller
   */
  static MovedIn receiveMoved(Predecessor predecessor, ConnectionSink sink, int maxConnections,
      Closeable path, Callable<?> readiness, LongAdder served) throws IOException {
    HandoffLink link = predecessor.link();
    List<ReceivedHandoff> held = new ArrayList<>();
    // Two phases: the copies sent as PREPARED, by id, until their SWITCHED or DROPPED.
    Map<Long, ReceivedHandoff> copies = new HashMap<>();
    // Two phases: ADOPTED answers to copies, written together once no message of a COPIES one is
    // left to read.
    List<Acknowledgement> answers = new ArrayList<>();
    ReadinessGate gate = null;
    try {
      String holding = predecessor.commits() ? "holding, until it commits the take-over,"
          : "serving";
      if (readiness == null) {
        link.sendAck(new Acknowledgement(0, Status.ADOPTED)); // bound: send them
        log.info("bound the socket path; {} the connections the previous app moves", holding);
      } else {
        // The previous app sends nothing until "bound", so this thread reads on: it sees the
        // link end if the previous app gives up waiting, or if the gate ends it (not ready).
        log.info("bound the socket path; checking this app is ready before the previous app"
            + " moves its connections");
        gate = ReadinessGate.open(readiness, link, holding);
      }
      while (true) {
        ReceivedHandoff message;
        try {
          message = link.receive();
        } catch (HandoffException e) {
          log.warn("refused a moved connection ({}): {}", e.reason(), e.getMessage());
          if (e.connectionId() != HandoffException.UNKNOWN_CONNECTION) {
            link.sendAck(new Acknowledgement(e.connectionId(), Status.REJECTED));
          }
          if (!e.reason().resynchronisable()) {
            throw new IOException("the link to the previous app cannot be read on", e);
          }
          continue;
        }
        if (message == null && !predecessor.commits()) {
          return new MovedIn(List.of(), sink, served);
        }
        if (message == null && gate != null && gate.failure() != null) {
          throw new IOException("this app was not ready (" + gate.failure() + "): the take-over"
              + " is rolled back; the previous app serves its connections");
        }
        if (message == null) {
          throw new IOException("the previous app ended the link before it committed the"
              + " take-over (it rolled back, or died); it serves its connections");
        }
        HandoffHeader header = message.header();
        if (header.kind() == HandoffHeader.Kind.TAKEOVER) {
          message.close();
          if (header.connectionId() != held.size()) {
            log.warn("the previous app committed {} connections; {} arrived here",
                header.connectionId(), held.size());
          }
          // The previous app moves (or switches) the busiest connections last: their clients, in
          // the middle of an exchange, are served first. (One from before that order sends them in
          // no particular order, which reversed is as good.)
          Collections.reverse(held);
          log.info("take-over committed: serving the {} connections moved here", held.size());
          MovedIn moved = new MovedIn(new ArrayList<>(held), sink, served);
          held.clear(); // the caller's from here
          return moved;
        }
        long id = header.connectionId();
        if (predecessor.twoPhase() && header.kind() != HandoffHeader.Kind.MIGRATED) {
          boolean switched = twoPhase(message, copies, held,
              maxConnections - sink.liveConnections(), link, answers);
          if (!answers.isEmpty() && !link.messageWaiting()) {
            link.sendAcks(answers);
            answers.clear();
          }
          if (switched && copies.isEmpty()) {
            link.sendAck(new Acknowledgement(0, Status.ADOPTED)); // switched: ready to serve all
            log.info("switched: {} connections ready to be served here on COMMIT", held.size());
          }
          continue;
        }
        if (header.kind() != HandoffHeader.Kind.MIGRATED) {
          message.close();
          log.warn("the previous app sent {} during the take-over; refused", header);
          link.sendAck(new Acknowledgement(id, Status.REJECTED));
        } else if (held.size() + sink.liveConnections() >= maxConnections) {
          message.close();
          log.warn("{}: {} connections held, the most allowed; answering RETRY", header,
              maxConnections);
          link.sendAck(new Acknowledgement(id, Status.RETRY));
        } else if (!predecessor.commits()) {
          MovedIn.serve(message, sink, served);
          link.sendAck(new Acknowledgement(id, Status.ADOPTED));
        } else {
          held.add(message); // this app's copy; served only after the commit
          link.sendAck(new Acknowledgement(id, Status.ADOPTED));
        }
      }
    } catch (IOException | RuntimeException e) {
      held.forEach(ReceivedHandoff::close);
      held.clear();
      copies.values().forEach(ReceivedHandoff::close);
      copies.clear();
      try {
        path.close(); // before the link: the previous app then binds the path again
      } catch (IOException closing) {
        e.addSuppressed(closing);
      }
      throw e;
    } finally {
      if (gate != null) {
        gate.close(); // a check still running is of no use now
      }
      held.forEach(ReceivedHandoff::close); // nothing for those the sink took
      copies.values().forEach(ReceivedHandoff::close); // copies never switched
      link.close(); // after the path was freed, on a rollback (the catch above runs first)
    }
  }

  /**
   * One message of a two-phase move: holds a copy (PREPARED, answered ADOPTED, or RETRY when
   * {@code room} is used up, or REJECTED for a message of another kind), or applies its switch
   * (SWITCHED: the copy, with its unsent bytes and state, joins {@code held}; DROPPED: the copy is
   * closed). Every descriptor that arrives is held or closed here.
   *
   * @param room how many more connections this app may take
   * @param answers where an ADOPTED answer to a copy goes, for the caller to send (the others are
   *     sent at once)
   * @return whether the message was a switch (SWITCHED or DROPPED)
   */
  private static boolean twoPhase(ReceivedHandoff message, Map<Long, ReceivedHandoff> copies,
      List<ReceivedHandoff> held, int room, HandoffLink link, List<Acknowledgement> answers)
      throws IOException {
    HandoffHeader header = message.header();
    long id = header.connectionId();
    switch (header.kind()) {
      case PREPARED -> {
        if (copies.size() + held.size() >= room) {
          message.close();
          log.warn("{}: {} connections held, the most allowed; answering RETRY", header,
              copies.size() + held.size());
          link.sendAck(new Acknowledgement(id, Status.RETRY));
        } else if (copies.putIfAbsent(id, message) != null) {
          message.close();
          log.warn("{}: sent twice; refused", header);
          link.sendAck(new Acknowledgement(id, Status.REJECTED));
        } else {
          answers.add(new Acknowledgement(id, Status.ADOPTED)); // held, serving nothing
        }
        return false;
      }
      case SWITCHED, DROPPED -> {
        ReceivedHandoff copy = copies.remove(id);
        if (copy == null) {
          // Nothing the old app can go on from: the move cannot be committed.
          throw new IOException("the previous app switched m" + id + ", which it had not sent");
        }
        if (header.kind() == HandoffHeader.Kind.SWITCHED) {
          held.add(copy.completedBy(message)); // served only after the commit
        } else {
          copy.close(); // closed there meanwhile, or it finishes there
        }
        return true;
      }
      default -> {
        message.close();
        log.warn("the previous app sent {} during a two-phase take-over; refused", header);
        link.sendAck(new Acknowledgement(id, Status.REJECTED));
        return false;
      }
    }
  }
}
