package dev.handoff.server;

import dev.handoff.common.Errors;
import dev.handoff.common.HandoffChannel;
import dev.handoff.common.HandoffException;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.ReceivedHandoff;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoEvent;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.FileDescriptor;
import java.io.IOException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads one proxy link on an event loop instead of a thread of its own: the loop's epoll set
 * watches the link's descriptor (level-triggered, EPOLLIN and EPOLLRDHUP), and when it is readable
 * this receives every message already queued without ever waiting ({@link
 * HandoffChannel#receiveAvailable}), gives each to its {@link LinkReader}, and writes the answers
 * of that burst in one write. A connection adopted onto this same loop is registered there and
 * then, with no task queued and no thread woken; the link costs no thread, no wake-up of a reader
 * and no hand-over between threads per handoff.
 *
 * <p>Descriptors: the link is the reader's; {@link LinkReader#finishClose} closes it (unless a
 * successor took it over), always after the link left the epoll set, so that the set never
 * watches a number that a later descriptor reuses. The {@link FileDescriptor} given to Netty is a
 * view of the link's number and is never closed.
 */
final class LinkPoller implements EpollIoHandle {
  private static final Logger log = LoggerFactory.getLogger(LinkPoller.class);
  /** Messages read in one wake-up at most, so that the loop's connections get their turn. */
  private static final int BURST = 64;
  /** How long ending the link waits for answers still being written by other event loops. */
  private static final long ANSWER_WAIT_NANOS = TimeUnit.SECONDS.toNanos(2);

  private final HandoffChannel link;
  private final LinkReader reader;
  private final IoEventLoop loop;
  private final FileDescriptor view;
  /** Set on the loop; the link is read no more once it is. */
  private boolean ending;
  private IoRegistration registration;

  private LinkPoller(HandoffChannel link, LinkReader reader, IoEventLoop loop, int number) {
    this.link = link;
    this.reader = reader;
    this.loop = loop;
    this.view = new FileDescriptor(number);
  }

  /** A poller for {@code link}, not watching it yet ({@link #start}). */
  static LinkPoller of(HandoffChannel link, LinkReader reader, IoEventLoop loop)
      throws IOException {
    int number = link.readDescriptorNumber();
    if (number < 0) {
      throw new IOException("the link from " + link.peer() + " is closed");
    }
    return new LinkPoller(link, reader, loop, number);
  }

  /**
   * Puts the link in the loop's epoll set: from now on the loop reads it.
   *
   * @throws IOException if the link cannot join the set; it is then unread, and still open
   */
  void start() throws IOException {
    io.netty.util.concurrent.Future<IoRegistration> registered =
        loop.register(this).awaitUninterruptibly();
    if (!registered.isSuccess()) {
      throw new IOException("watch the link from " + link.peer() + " on an event loop: "
          + Errors.describe(registered.cause()), registered.cause());
    }
    IoRegistration joined = registered.getNow();
    try {
      loop.submit(() -> {
        registration = joined;
        joined.submit(EpollIoOps.EPOLLIN.with(EpollIoOps.EPOLLRDHUP));
        return null;
      }).syncUninterruptibly();
    } catch (Exception e) { // syncUninterruptibly rethrows the submit's IOException unchecked
      try {
        joined.cancel();
      } catch (Exception ignored) {
        // not in the set either way
      }
      throw new IOException("watch the link from " + link.peer() + ": " + Errors.describe(e), e);
    }
  }

  @Override
  public FileDescriptor fd() {
    return view;
  }

  @Override
  public void handle(IoRegistration registration, IoEvent event) {
    if (ending) {
      return;
    }
    EpollIoOps ops = ((EpollIoEvent) event).ops();
    boolean endSeen = ops.contains(EpollIoOps.EPOLLRDHUP) || ops.contains(EpollIoOps.EPOLLERR);
    boolean goOn = true;
    ReceivedHandoff takeOver = null;
    reader.beginBatch();
    try {
      for (int i = 0; i < BURST && goOn; i++) {
        ReceivedHandoff handoff;
        try {
          handoff = link.receiveAvailable(endSeen);
        } catch (HandoffException e) {
          goOn = reader.refuse(e);
          continue;
        }
        if (handoff == HandoffChannel.INCOMPLETE) {
          break;
        }
        if (handoff == null) {
          log.info("link from {} closed", link.peer());
          goOn = false;
        } else if (handoff.header().kind() == HandoffHeader.Kind.TAKEOVER) {
          takeOver = handoff; // given away once the link has left this loop
          goOn = false;
        } else {
          goOn = reader.handle(handoff);
        }
      }
    } catch (IOException e) {
      log.warn("link from {} failed: {}", link.peer(), Errors.describe(e));
      goOn = false;
    } catch (RuntimeException | Error e) {
      log.error("link from {}: unexpected failure; closing the link", link.peer(), e);
      goOn = false;
    } finally {
      reader.endBatch();
    }
    if (!goOn) {
      leaveLoop();
      if (takeOver != null) {
        try {
          reader.handle(takeOver); // hands the link to the successor's hand-over, on its thread
        } catch (IOException | RuntimeException e) {
          log.warn("link from {}: take-over failed: {}", link.peer(), Errors.describe(e));
        }
      }
      awaitAnswersThenClose(System.nanoTime() + ANSWER_WAIT_NANOS);
    }
  }

  /** Stops watching the link; on the loop. */
  private void leaveLoop() {
    ending = true;
    try {
      registration.cancel();
    } catch (Exception e) {
      log.debug("link from {}: leaving the event loop: {}", link.peer(), e.toString());
    }
  }

  /** Closes the link once no answer is due from another loop, without blocking this one. */
  private void awaitAnswersThenClose(long deadline) {
    if (reader.answersDue() > 0 && System.nanoTime() - deadline < 0) {
      try {
        loop.schedule(() -> awaitAnswersThenClose(deadline), 1, TimeUnit.MILLISECONDS);
        return;
      } catch (RejectedExecutionException e) {
        // the loop is stopping: close now
      }
    }
    finish();
  }

  private void finish() {
    reader.finishClose();
  }

  /**
   * Ends the reading from outside the loop (the server closing): the link leaves the loop, then
   * closes. Returns at once.
   */
  void shutdown() {
    try {
      loop.execute(() -> {
        if (!ending) {
          leaveLoop();
          finish();
        }
      });
    } catch (RejectedExecutionException e) {
      // The loop has stopped, and closed this handle (close() below) on its way out.
    }
  }

  /** Called by the loop when it stops with the link still in its set. */
  @Override
  public void close() {
    if (!ending) {
      leaveLoop();
      finish();
    }
  }
}
