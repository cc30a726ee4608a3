package dev.handoff.server;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Acknowledgement.Status;
import dev.handoff.common.Errors;
import dev.handoff.common.HandoffChannel;
import dev.handoff.common.HandoffHeader;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The new app's side of a take-over: ask the app running at the socket path to hand over, and
 * wait until it has freed the path. The caller then binds the path and says so on the returned
 * link (ADOPTED for connection id 0); the old app's connections then arrive on it as MIGRATED
 * handoffs, which a {@link LinkReader} adopts like any other.
 *
 * <p>One take-over at a time: an app that is already handing over, or still taking over from its
 * own predecessor, answers REJECTED.
 */
final class Successor {
  /** What the errors of a take-over that met another one under way say to do. */
  static final String ANOTHER =
      "if another take-over is under way, the app that wins it will be there";

  private Successor() {}

  /**
   * @return the link to the running app, once that app has stopped taking handoffs and removed
   *     its socket file
   * @throws IOException if no app runs there, or it refused
   */
  static HandoffChannel requestTakeOver(Path socket, Duration timeout) throws IOException {
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
        link.send(new HandoffHeader(0, 0, none, none, HandoffHeader.Kind.TAKEOVER, 0), null);
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
      if (answer.connectionId() != 0 || answer.status() != Status.ADOPTED) {
        throw new IOException("the app at " + socket + " did not agree to hand over ("
            + answer.status() + ")");
      }
      return link;
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
}
