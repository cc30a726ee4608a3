package dev.handoff.server;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.HandoffLink;
import dev.handoff.common.ReceivedHandoff;
import dev.handoff.common.SwitchedConnection;
import java.io.FileDescriptor;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A link driven by a test: what it will receive is scripted (handoffs, refusals, the end), what is
 * sent on it is recorded, and sends can be made to fail. Blocking reads wait on a queue, as a real
 * link's reader waits on its socket.
 */
final class FakeLink implements HandoffLink {
  /** The end of the link, as a script item. */
  static final Object END = new Object();

  private final BlockingQueue<Object> incoming = new LinkedBlockingQueue<>();
  private final BlockingQueue<Object> answersIn = new LinkedBlockingQueue<>();
  final List<Acknowledgement> answersOut = new CopyOnWriteArrayList<>();
  final List<HandoffHeader> migratedOut = new CopyOnWriteArrayList<>();
  /**
   * Events in order: "ack c5 ADOPTED", "closed", "shutdown-output", "migrated m1", "commit 3", and
   * what a test's fakes add.
   */
  final List<String> events = new CopyOnWriteArrayList<>();
  volatile boolean answersFail;
  /** Sends of MIGRATED messages fail from this one on (1-based); 0: never. */
  volatile int migratedFailFrom;
  private final AtomicInteger migratedCount = new AtomicInteger();
  volatile boolean closed;
  /** How long the successor takes to answer each connection sent, as a slow one would. */
  volatile long answerDelayMillis;

  static HandoffHeader header(long id) {
    return new HandoffHeader(id, 1_000_000L * id, new InetSocketAddress("127.0.0.1", 40000 + (int) id),
        new InetSocketAddress("127.0.0.1", 1987));
  }

  /** A handoff whose descriptor is a real one (/dev/null), so that a test can see it closed. */
  static ReceivedHandoff handoff(long id) throws IOException {
    java.io.FileInputStream devNull = new java.io.FileInputStream("/dev/null");
    return new ReceivedHandoff(header(id), devNull.getFD(), -1, null);
  }

  static ReceivedHandoff takeOverRequest() {
    InetSocketAddress none = new InetSocketAddress(0);
    return new ReceivedHandoff(new HandoffHeader(0, 0, none, none, HandoffHeader.Kind.TAKEOVER,
        0), null, -1, null);
  }

  /** Queues a message (a ReceivedHandoff), a failure (an IOException) or {@link #END}. */
  FakeLink willReceive(Object item) {
    incoming.add(item);
    return this;
  }

  /** Queues an answer for {@link #receiveAck}, an IOException, or {@link #END}. */
  FakeLink willAnswer(Object item) {
    answersIn.add(item);
    return this;
  }

  /** Sends of a take-over's COMMIT (a TAKEOVER message on a successor's link) fail. */
  volatile boolean commitFails;

  /** PREPARED messages sent (two-phase move), in order. */
  final List<HandoffHeader> preparedOut = new CopyOnWriteArrayList<>();
  /** SWITCHED and DROPPED messages sent (two-phase move), in order. */
  final List<SwitchedConnection> switchedOut = new CopyOnWriteArrayList<>();
  /** Sends of PREPARED messages fail from this one on (1-based); 0: never. */
  volatile int preparedFailFrom;
  /** The switch's send fails. */
  volatile boolean switchFails;
  private volatile boolean switchSent;
  private final AtomicInteger zeroAnswers = new AtomicInteger();

  /**
   * An old app's COMMIT, recorded as "commit N", and a two-phase move's PREPARED messages
   * ("prepared mN", with the descriptor's validity at the send checked).
   */
  @Override
  public void send(HandoffHeader header, FileDescriptor fd) throws IOException {
    if (header.kind() == HandoffHeader.Kind.PREPARED) {
      if (fd == null || !fd.valid()) {
        throw new AssertionError("a PREPARED message carries an open descriptor: " + header);
      }
      if (closed || (preparedFailFrom > 0 && preparedOut.size() + 1 >= preparedFailFrom)) {
        throw new IOException("send m" + header.connectionId() + ": Broken pipe");
      }
      preparedOut.add(header);
      events.add("prepared m" + header.connectionId());
      return;
    }
    if (header.kind() != HandoffHeader.Kind.TAKEOVER || fd != null) {
      throw new AssertionError("an app sends no handoff but a take-over's COMMIT: " + header);
    }
    if (closed || commitFails) {
      throw new IOException("send COMMIT: Broken pipe");
    }
    events.add("commit " + header.connectionId());
  }

  @Override
  public void sendMigrated(HandoffHeader header, FileDescriptor fd, byte[] pending,
      byte[] state) throws IOException {
    int n = migratedCount.incrementAndGet();
    if (closed || (migratedFailFrom > 0 && n >= migratedFailFrom)) {
      throw new IOException("send m" + header.connectionId() + ": Broken pipe");
    }
    migratedOut.add(header);
    events.add("migrated m" + header.connectionId());
  }

  @Override
  public void sendSwitch(List<SwitchedConnection> connections) throws IOException {
    if (closed || switchFails) {
      throw new IOException("send the switch: Broken pipe");
    }
    switchedOut.addAll(connections);
    events.add("switch " + connections.size());
    switchSent = true;
  }

  /**
   * Several copies of a take-over's first phase as the old app sends them to a successor that
   * reads COPIES messages: recorded as "copies N", then each as a PREPARED message.
   */
  @Override
  public void sendCopies(List<HandoffHeader> prepared, List<FileDescriptor> fds)
      throws IOException {
    events.add("copies " + prepared.size());
    for (int i = 0; i < prepared.size(); i++) {
      send(prepared.get(i), fds.get(i));
    }
  }

  /** A switch in SWITCHES messages: recorded as "switches N", then as the switch. */
  @Override
  public void sendSwitches(List<SwitchedConnection> connections) throws IOException {
    events.add("switches " + connections.size());
    sendSwitch(connections);
  }

  /** Queues the copies of one COPIES message: while some are left, a message is waiting. */
  FakeLink willReceiveCopies(ReceivedHandoff... copies) {
    incoming.add(new Copies(List.of(copies)));
    return this;
  }

  private record Copies(List<ReceivedHandoff> copies) {}

  /**
   * Messages of the COPIES message being read that {@link #receive} has not returned yet; read by
   * the thread that receives.
   */
  private final java.util.ArrayDeque<ReceivedHandoff> copiesAhead = new java.util.ArrayDeque<>();

  @Override
  public boolean messageWaiting() {
    return !copiesAhead.isEmpty();
  }

  /** Several answers in one write: recorded as "acks N", then each answer. */
  @Override
  public synchronized void sendAcks(List<Acknowledgement> acks) throws IOException {
    if (closed || answersFail) {
      throw new IOException("acknowledge " + acks.size() + " connections: Broken pipe");
    }
    events.add("acks " + acks.size());
    answersOut.addAll(acks);
  }

  @Override
  public ReceivedHandoff receive() throws IOException {
    if (!copiesAhead.isEmpty()) {
      return copiesAhead.poll();
    }
    Object item = take(incoming);
    if (item instanceof Copies batch) {
      copiesAhead.addAll(batch.copies());
      return copiesAhead.poll();
    }
    if (item == END) {
      return null;
    }
    if (item instanceof IOException e) {
      throw e;
    }
    return (ReceivedHandoff) item;
  }

  @Override
  public synchronized void sendAck(Acknowledgement ack) throws IOException {
    if (closed || answersFail) {
      throw new IOException("acknowledge c" + ack.connectionId() + ": Broken pipe");
    }
    answersOut.add(ack);
    events.add("ack c" + ack.connectionId() + " " + ack.status());
  }

  /**
   * The next scripted answer. An answer for a migrated or prepared connection is held back until
   * that connection has been sent, and a second answer with id 0 (a two-phase move's "switched")
   * until the switch has been sent, as a real successor cannot answer earlier.
   */
  @Override
  public Acknowledgement receiveAck() throws IOException {
    Object head;
    while ((head = answersIn.peek()) instanceof Acknowledgement ack && !closed
        && (ack.connectionId() > 0 ? !sent(ack.connectionId())
            : zeroAnswers.get() > 0 && !switchSent)) {
      sleep(2);
    }
    if (head instanceof Acknowledgement ack && ack.connectionId() > 0 && answerDelayMillis > 0) {
      sleep(answerDelayMillis);
    }
    Object item = take(answersIn);
    if (item instanceof Acknowledgement ack && ack.connectionId() == 0) {
      zeroAnswers.incrementAndGet();
    }
    if (item == END) {
      return null;
    }
    if (item instanceof IOException e) {
      throw e;
    }
    return (Acknowledgement) item;
  }

  /** Whether a connection with this id was sent: migrated, or prepared. */
  private boolean sent(long id) {
    return migratedOut.stream().anyMatch(h -> h.connectionId() == id)
        || preparedOut.stream().anyMatch(h -> h.connectionId() == id);
  }

  @Override
  public void shutdownInput() {
    events.add("shutdown-input");
  }

  @Override
  public void shutdownOutput() {
    events.add("shutdown-output");
  }

  @Override
  public String peer() {
    return "fake";
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      events.add("closed");
      incoming.add(new IOException("link closed"));
      answersIn.add(new IOException("link closed"));
    }
  }

  private static void sleep(long ms) throws IOException {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  private Object take(BlockingQueue<Object> queue) throws IOException {
    try {
      Object item = queue.poll(20, TimeUnit.SECONDS);
      if (item == null) {
        throw new IOException("the test scripted nothing more to read");
      }
      return item;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }
}
