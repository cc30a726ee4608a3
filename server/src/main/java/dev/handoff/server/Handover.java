package dev.handoff.server;

import dev.handoff.server.ConnectionDetacher.Detached;
import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Acknowledgement.Status;
import dev.handoff.common.Closeables;
import dev.handoff.common.Errors;
import dev.handoff.common.HandoffLink;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.SwitchedConnection;
import dev.handoff.common.internal.JdkNioInternals;
import java.io.FileDescriptor;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running app's side of a take-over (docs/PROTOCOL.md, "Taking over from a running app"), as
 * one transaction: stop taking handoffs and free the socket path; wait until the successor says it
 * has bound the path; move every connection that can move; and once the successor holds every
 * one, send COMMIT. Only then are this app's copies closed and the process shut down.
 *
 * <p>Two ways to move them. In two phases, with a successor that asked for it and an engine that
 * can copy descriptors: first a copy of every connection's descriptor goes (PREPARED) while this
 * app goes on serving them all; then the switch pauses them all at once, sends their unsent bytes
 * and state in as few writes as they take (SWITCHED, or DROPPED for one that closed meanwhile or
 * cannot move now), and COMMIT follows the successor's one answer: a client is stalled for the
 * switch only. Otherwise one at a time, each paused just before its own move (MIGRATED), the
 * first paused until the last is held.
 *
 * <p>One timeout bounds each wait on the successor ({@link HandoffServerBootstrap#handOverTimeout}):
 * from its request to its "bound" answer; then, while connections move, from each answer to the
 * next (no progress for that long); and from the switch to its answer. A large healthy move thus
 * takes as long as it needs, and a successor that stops answering is rolled back.
 *
 * <p>Before COMMIT nothing is given away: this app keeps its copy of every descriptor sent, and the
 * successor serves none of them. On any failure before it (the successor dies, closes the link,
 * does not answer in time, refuses any connection, or never binds the path), this app rolls back
 * as a whole: it ends the link (the successor then drops its copies and frees the path), serves
 * every connection again, binds the socket path again and takes handoffs as before.
 */
final class Handover implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(Handover.class);
  /**
   * The default of {@link HandoffServerBootstrap#handOverTimeout}: how long the successor may take
   * to bind the freed path and say so, and then to answer again while connections move.
   */
  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);
  /** How long a rollback waits for the successor to end its side of the link (free the path). */
  private static final long LINK_END_WAIT_MILLIS = 5_000;
  /** How long one connection may take to be paused and taken off its event loop. */
  private static final long DETACH_TIMEOUT_MILLIS = 10_000;
  /**
   * How many connections may be being paused ahead of the one being sent: each pause is a hop to
   * the connection's event loop, and these overlap with the sends instead of adding up, while no
   * connection is paused more than this many moves before its own.
   */
  static final int PAUSE_AHEAD = 8;
  /**
   * How many copies go in one COPIES message to a successor that reads them: one sendmsg(2), one
   * read and one write of answers in the successor, for this many connections.
   */
  static final int COPIES_PER_MESSAGE = 64;

  private final HandoffLink successor;
  /** The successor asked for a two-phase move. */
  private final boolean twoPhaseAsked;
  private final HandoverSite site;
  private final Runnable done;
  /** How long each wait on the successor may last (see the class comment). */
  private final Duration timeout;
  private final int pauseAhead;
  /**
   * Copies per message in the prepare of a two-phase move: 1 (PREPARED messages, and the switch
   * in SWITCHED and DROPPED ones) or more (COPIES messages, and the switch in SWITCHES ones).
   */
  private final int copiesPerMessage;
  /**
   * Paused here: sent, or paused ahead of their move. This app's copies, served again on a
   * rollback; released on the commit (then every one of them was sent).
   */
  private final List<Detached> moved = new ArrayList<>();
  /** Migration ids sent and not yet answered. */
  private final Set<Long> unanswered = ConcurrentHashMap.newKeySet();
  /** The successor has bound the socket path: connections may go to it. */
  private final CountDownLatch ready = new CountDownLatch(1);
  /** Two-phase move: the successor has applied the whole switch and is ready to serve all. */
  private final CountDownLatch switched = new CountDownLatch(1);
  /**
   * Two-phase move: this app's copies of the descriptors sent as PREPARED, closed once the
   * connections are paused (or the take-over ends before that); {@code null} in a one-phase move.
   */
  private List<DescriptorCopy> copies;
  /** The successor's side of the link has ended (or failed). */
  private final CountDownLatch answersDone = new CountDownLatch(1);
  /** Why the successor cannot take everything (it refused a connection); null while it can. */
  private volatile String refusal;
  /** When the successor said it had bound the path (System.nanoTime), for the log. */
  private volatile long readyAt;

  /**
   * @param successor the link the take-over request came on; this object owns it from now on
   * @param done called once the take-over is committed: the process then shuts down as on SIGTERM
   */
  Handover(HandoffLink successor, boolean twoPhaseAsked, HandoverSite site, Runnable done,
      Duration timeout) {
    this(successor, twoPhaseAsked, site, done, timeout, PAUSE_AHEAD);
  }

  /**
   * As above, with the pauses ahead given (tests).
   *
   * @param twoPhaseAsked whether the successor asked for a two-phase move (its TAKEOVER request's
   *     connection id was {@link Successor#TWO_PHASE})
   * @param timeout how long each wait on the successor may last (see the class comment)
   */
  Handover(HandoffLink successor, boolean twoPhaseAsked, HandoverSite site, Runnable done,
      Duration timeout, int pauseAhead) {
    this(successor, twoPhaseAsked, site, done, timeout, pauseAhead, 1);
  }

  /**
   * As above, with how many copies go in one message in the prepare of a two-phase move.
   *
   * @param copiesPerMessage 1 for one PREPARED message each and the switch in SWITCHED and DROPPED
   *     messages (a successor that did not ask for batches), or more, up to {@link
   *     dev.handoff.common.HandoffChannel#MAX_COPIES}, for COPIES messages and the switch in
   *     SWITCHES ones
   */
  Handover(HandoffLink successor, boolean twoPhaseAsked, HandoverSite site, Runnable done,
      Duration timeout, int pauseAhead, int copiesPerMessage) {
    this.twoPhaseAsked = twoPhaseAsked;
    this.pauseAhead = pauseAhead;
    this.copiesPerMessage = copiesPerMessage;
    this.successor = successor;
    this.site = site;
    this.done = done;
    this.timeout = timeout;
  }

  @Override
  public void run() {
    log.info("{} asks to take over: handing everything over", successor.peer());
    long start = System.nanoTime();
    String failure;
    try {
      site.stopTakingHandoffs(successor);
      Thread answers = new Thread(this::readAnswers, "handover-acks");
      answers.setDaemon(true);
      answers.start();
      copies = twoPhaseAsked ? site.copies() : null;
      // The socket path is free now; the successor binds it. The answer's id says COMMIT follows,
      // and how the connections will move.
      successor.sendAck(new Acknowledgement(copies != null ? Successor.TWO_PHASE
          : Successor.COMMIT_FOLLOWS, Status.ADOPTED));
      failure = awaitReady();
      if (failure == null) {
        failure = copies != null ? moveInTwoPhases() : moveConnections();
      }
      if (failure == null) {
        failure = commit();
      }
    } catch (IOException | RuntimeException e) {
      failure = Errors.describe(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      failure = "interrupted";
    }
    closeCopies(); // before the connections are released or resumed: see DescriptorCopy
    if (failure == null) {
      moved.forEach(site::release);
      closeLink();
      log.info("take-over committed: handed {} connections over in {} ms", moved.size(),
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
      done.run();
    } else {
      rollBack(failure);
    }
  }

  /** Waits for the successor's "bound" answer; returns why not, or null once it came. */
  private String awaitReady() throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() - deadline < 0) {
      if (ready.await(20, TimeUnit.MILLISECONDS)) {
        return null;
      }
      if (answersDone.getCount() == 0) {
        return "it went away before binding the socket path";
      }
    }
    return "it did not bind the socket path and say so within " + timeout.toMillis()
        + " ms";
  }

  /**
   * Pauses and sends each connection in turn, then waits for the successor to hold every one.
   *
   * @return why the move cannot be committed, or null if the successor holds everything sent
   */
  private String moveConnections() throws IOException, InterruptedException {
    ArrayDeque<CompletableFuture<Detached>> pausing = new ArrayDeque<>();
    String stop;
    try {
      stop = sendAll(pausing);
    } finally {
      // Stopped early (or a send failed): those paused ahead were not sent; the rollback serves
      // them here again.
      while (!pausing.isEmpty()) {
        Detached ahead = detach(pausing.poll());
        if (ahead != null) {
          moved.add(ahead);
        }
      }
    }
    if (stop != null) {
      return stop;
    }
    return awaitAnswers();
  }

  /**
   * Pauses and sends each connection in turn, each paused at most {@code pauseAhead} moves before
   * its own (the others are served meanwhile).
   *
   * @param pausing the connections being paused ahead; what is left in it when this returns or
   *     throws was not sent
   * @return why the move stopped, or null once every connection that could move was sent
   */
  private String sendAll(ArrayDeque<CompletableFuture<Detached>> pausing)
      throws IOException, InterruptedException {
    List<Supplier<CompletableFuture<Detached>>> movable = site.movable();
    int stayed = 0;
    long seq = 0;
    int next = 0;
    while (next < movable.size() || !pausing.isEmpty()) {
      while (next < movable.size() && pausing.size() < pauseAhead) {
        pausing.add(movable.get(next++).get());
      }
      Detached d = detach(pausing.poll());
      if (d != null) {
        moved.add(d); // this app's copy from now on, until the commit or the rollback
      }
      String stop = stopReason();
      if (stop != null) {
        return stop;
      }
      if (d == null) {
        stayed++; // closed meanwhile, or its state cannot move: it finishes here
        continue;
      }
      HandoffHeader h = d.header();
      HandoffHeader numbered = numbered(h, ++seq);
      unanswered.add(seq);
      log.debug("moving {} as m{} with {} unsent bytes", h, seq, d.pending().length);
      successor.sendMigrated(numbered, JdkNioInternals.borrow(d.fd()), d.pending(), d.state());
    }
    logStayed(stayed);
    return null;
  }

  /**
   * The two-phase move: a copy of every connection goes while this app serves them all; once the
   * successor holds every copy, they are all paused at once and switched, and the successor
   * answers once.
   *
   * @return why the move cannot be committed, or null once the successor is ready to serve all
   */
  private String moveInTwoPhases() throws IOException, InterruptedException {
    if (copies.isEmpty()) {
      return null; // nothing can move: COMMIT 0
    }
    // Prepare: nothing is paused; a copy that cannot go makes the whole take-over roll back.
    long start = System.nanoTime();
    List<HandoffHeader> prepared = new ArrayList<>(copies.size());
    for (int from = 0; from < copies.size(); from += copiesPerMessage) {
      int to = Math.min(copies.size(), from + copiesPerMessage);
      List<HandoffHeader> headers = new ArrayList<>(to - from);
      List<FileDescriptor> fds = new ArrayList<>(to - from);
      for (DescriptorCopy copy : copies.subList(from, to)) {
        HandoffHeader numbered = numbered(copy.header(), prepared.size() + 1);
        prepared.add(numbered);
        unanswered.add(numbered.connectionId());
        headers.add(numbered.as(HandoffHeader.Kind.PREPARED, 0, 0));
        fds.add(copy.descriptor());
      }
      if (copiesPerMessage == 1) {
        successor.send(headers.get(0), fds.get(0));
      } else {
        successor.sendCopies(headers, fds);
      }
      String stop = stopReason();
      if (stop != null) {
        return stop;
      }
    }
    String stop = awaitAnswers();
    if (stop != null) {
      return stop;
    }
    long preparedAt = System.nanoTime();
    // Switch: every connection paused at once, its bytes and state taken, all sent together; the
    // quietest first, so that the clients in the middle of an exchange are paused last and, served
    // first by the successor (it serves the last switched first), wait the least.
    Integer[] order = quietestFirst(copies);
    List<DescriptorCopy> toPause = new ArrayList<>(order.length);
    List<HandoffHeader> headers = new ArrayList<>(order.length);
    for (int k : order) {
      toPause.add(copies.get(k));
      headers.add(prepared.get(k));
    }
    long orderedAt = System.nanoTime();
    List<CompletableFuture<Detached>> pausing = site.pause(toPause);
    List<SwitchedConnection> all = new ArrayList<>(pausing.size());
    int stayed = 0;
    int i = 0;
    try {
      for (; i < pausing.size(); i++) {
        Detached d = detach(pausing.get(i));
        if (d == null) {
          stayed++; // closed meanwhile, or its state cannot move now: it finishes here
          all.add(SwitchedConnection.dropped(headers.get(i)));
        } else {
          moved.add(d); // this app's copy from now on, until the commit or the rollback
          all.add(SwitchedConnection.switched(headers.get(i), d.pending(), d.state()));
        }
      }
    } finally {
      // Interrupted while waiting: those not waited for yet are served here again when paused.
      for (int j = i; j < pausing.size(); j++) {
        pausing.get(j).thenAccept(late -> {
          if (late != null) {
            site.resume(late);
          }
        });
      }
    }
    long pausedAt = System.nanoTime();
    if (copiesPerMessage > 1) {
      successor.sendSwitches(all); // a successor that reads batches
    } else {
      successor.sendSwitch(all);
    }
    long sentAt = System.nanoTime();
    // Paused: nothing here closes them now, and the successor has its own copies; closed while it
    // applies the switch rather than before the switch is sent.
    closeCopies();
    logStayed(stayed);
    long deadline = System.nanoTime() + timeout.toNanos();
    while (switched.getCount() > 0 && System.nanoTime() - deadline < 0 && stopReason() == null) {
      switched.await(1, TimeUnit.MILLISECONDS);
    }
    stop = stopReason();
    if (stop == null && switched.getCount() > 0) {
      stop = "it did not answer the switch within " + timeout.toMillis() + " ms";
    }
    if (stop == null) {
      log.info("prepared {} copies in {} ms ({} to a message) while serving them; switched {}"
          + " ({} stay here) in {} ms (ordered in {} ms, paused in {} ms, sent in {} ms, answered"
          + " {} ms after)", copies.size(), TimeUnit.NANOSECONDS.toMillis(preparedAt - start),
          Math.min(copiesPerMessage, copies.size()), moved.size(), stayed,
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - preparedAt),
          TimeUnit.NANOSECONDS.toMillis(orderedAt - preparedAt),
          TimeUnit.NANOSECONDS.toMillis(pausedAt - orderedAt),
          TimeUnit.NANOSECONDS.toMillis(sentAt - pausedAt),
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sentAt));
    }
    return stop;
  }

  /**
   * The indexes of {@code copies}, the connection whose client sent data longest ago first, the
   * most recent last (ties in the order prepared).
   */
  static Integer[] quietestFirst(List<DescriptorCopy> copies) {
    long[] quiet = new long[copies.size()];
    for (int k = 0; k < quiet.length; k++) {
      quiet[k] = copies.get(k).quietMillis();
    }
    return quietestFirst(quiet);
  }

  /**
   * The indexes of {@code quiet} (ms since each connection's client last sent data), the largest
   * first; ties in the order given.
   */
  static Integer[] quietestFirst(long[] quiet) {
    Integer[] order = new Integer[quiet.length];
    for (int k = 0; k < order.length; k++) {
      order[k] = k;
    }
    Arrays.sort(order, (a, b) -> Long.compare(quiet[b], quiet[a]));
    return order;
  }

  /** Says how many connections stay here to finish (if any). */
  static void logStayed(int stayed) {
    if (stayed > 0) {
      log.info("{} connections stay here to finish: their pipelines carry state that cannot move"
          + " (no MigratableHandler, and not declared stateless) or they were closing", stayed);
    }
  }

  /** Ids the successor answers by: a proxy's ids are unique only per proxy. */
  private static HandoffHeader numbered(HandoffHeader h, long seq) {
    return new HandoffHeader(seq, h.acceptedAtMicros(), h.client(), h.local(), h.origin());
  }

  /**
   * Waits until every message sent is answered, as long as the successor answers one within
   * {@link #timeout} of the one before; returns why not, or null.
   */
  private String awaitAnswers() throws InterruptedException {
    int left = unanswered.size();
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!unanswered.isEmpty() && System.nanoTime() - deadline < 0 && stopReason() == null) {
      answersDone.await(1, TimeUnit.MILLISECONDS);
      if (unanswered.size() < left) { // progress: the successor answered since
        left = unanswered.size();
        deadline = System.nanoTime() + timeout.toNanos();
      }
    }
    String stop = stopReason();
    if (stop != null) {
      return stop;
    }
    return unanswered.isEmpty() ? null : "it answered none of the last " + unanswered.size()
        + " connections sent within " + timeout.toMillis() + " ms";
  }

  /** Closes this app's copies of the descriptors sent as PREPARED, once. */
  private void closeCopies() {
    if (copies != null) {
      copies.forEach(DescriptorCopy::close);
    }
  }

  /** Why the move must stop now, or null while the successor can still take everything. */
  private String stopReason() {
    if (refusal != null) {
      return refusal;
    }
    if (answersDone.getCount() == 0) {
      return "its link ended before the commit";
    }
    return null;
  }

  /** Waits for one connection to be paused and off its event loop; null if it stays here. */
  private Detached detach(CompletableFuture<Detached> detaching) throws InterruptedException {
    try {
      return detaching.get(DETACH_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      log.warn("cannot detach a connection; it stays here: {}", Errors.describe(e));
      // Not sent: if it leaves its event loop after all, it is served here again.
      detaching.thenAccept(late -> {
        if (late != null) {
          site.resume(late);
        }
      });
      return null;
    }
  }

  /**
   * The commit point: a TAKEOVER message from this app to the successor, with the number of
   * connections moved as its connection id. Once it is sent, the connections are the
   * successor's.
   *
   * @return why it could not be sent, or null once it is
   */
  private String commit() {
    InetSocketAddress none = new InetSocketAddress(0);
    try {
      successor.send(new HandoffHeader(moved.size(), 0, none, none, HandoffHeader.Kind.TAKEOVER,
          0), null);
      return null;
    } catch (IOException e) {
      return "the commit could not be sent (" + Errors.describe(e) + ")";
    }
  }

  /**
   * Serves everything here again: ends the link, so that the successor, which has served none of
   * the connections sent (no COMMIT came), drops its copies and frees the socket path; resumes
   * every connection paused here; then binds the path again once the successor's side has ended.
   */
  private void rollBack(String failure) {
    try {
      successor.shutdownOutput();
    } catch (IOException e) {
      // already broken: the successor sees the end either way
    }
    moved.forEach(site::resume);
    try {
      if (!answersDone.await(LINK_END_WAIT_MILLIS, TimeUnit.MILLISECONDS)) {
        log.warn("{} did not end its side of the link within {} ms", successor.peer(),
            LINK_END_WAIT_MILLIS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    closeLink();
    log.warn("take-over by {} rolled back ({}); the {} connections paused are served here again",
        successor.peer(), failure, moved.size());
    if (!site.resumeTakingHandoffs()) {
      log.error("take-over rolled back, but the socket path is held by another process: this"
          + " app serves its {} connections until they close or it gets SIGTERM; new connections"
          + " go to the app that holds the socket path", moved.size());
    }
  }

  private void closeLink() {
    Closeables.closeQuietly(successor);
  }

  /** Reads the successor's answers: "bound", then one per connection sent. */
  private void readAnswers() {
    try {
      Acknowledgement ack;
      while ((ack = successor.receiveAck()) != null) {
        if (ack.connectionId() == 0) {
          if (ack.status() != Status.ADOPTED) {
            refusal = "it answered " + ack.status() + " for the move as a whole";
          } else if (ready.getCount() > 0) {
            log.info("{} has bound the socket path; moving the connections", successor.peer());
            readyAt = System.nanoTime();
            ready.countDown();
          } else {
            switched.countDown(); // two phases: it applied the switch, ready to serve all
          }
          continue;
        }
        if (!unanswered.remove(ack.connectionId())) {
          log.warn("successor answered unknown m{}", ack.connectionId());
        } else if (ack.status() != Status.ADOPTED) {
          refusal = "it answered " + ack.status() + " for m" + ack.connectionId();
        } else if (ack.connectionId() == 1) {
          log.info("m1: the first connection moved, held by the successor {} ms after it bound"
              + " the socket path", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - readyAt));
        }
      }
    } catch (IOException e) {
      log.info("link to successor {}: {}", successor.peer(), Errors.describe(e));
    } finally {
      answersDone.countDown();
    }
  }
}
