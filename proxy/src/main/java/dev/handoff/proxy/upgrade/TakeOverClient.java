package dev.handoff.proxy.upgrade;

import dev.handoff.common.Closeables;
import dev.handoff.common.Descriptors;
import dev.handoff.common.Errors;
import dev.handoff.common.internal.JdkNioInternals;
import java.io.FileDescriptor;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The new proxy's side of an upgrade ({@code proxy --take-over --control PATH}; docs/PROTOCOL.md,
 * "Upgrading the proxy"): asks the running proxy for its listening sockets, gives each to the
 * configured listener on its address ({@link #assign}), starts accepting, says so, and waits for
 * the running proxy to be done.
 *
 * <p>Descriptors: the received sockets are this object's from {@link #begin} until
 * {@link #assign}, which hands the wanted ones to the caller and closes the rest; if
 * {@link #begin} fails, it has closed every one it had received. {@link #close} closes the link
 * and any received socket not yet assigned.
 *
 * <p>For the fault tests only: the environment variable {@value #PAUSE} ({@code STAGE=MILLIS})
 * makes this proxy log {@code take-over test pause at STAGE} and sleep that long at one stage:
 * {@code connected} (before HELLO), {@code listener} (the listening sockets received, not yet
 * accepting), {@code accepting} (accepting, ACCEPTING not yet sent), {@code accepting-sent}
 * (before reading DONE) or {@code done} (DONE read, RELEASE not yet sent).
 */
final class TakeOverClient implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TakeOverClient.class);
  static final String PAUSE = "HANDOFF_TAKEOVER_TEST_PAUSE";

  private final ControlLink link;
  /** The received sockets, in the order sent; null once assigned (or closed). */
  private final List<ServerSocketChannel> received;

  private TakeOverClient(ControlLink link, List<ServerSocketChannel> received) {
    this.link = link;
    this.received = received;
  }

  /**
   * Connects to the running proxy's control socket and receives every listening socket it has.
   * Nothing has changed for the running proxy if this fails: it never stopped accepting; the
   * sockets received so far are closed here.
   */
  static TakeOverClient begin(Path control) throws IOException {
    ControlLink link = ControlLink.connect(control);
    List<FileDescriptor> fds = new ArrayList<>();
    List<ServerSocketChannel> channels = new ArrayList<>();
    try {
      pause("connected");
      ControlLink.Message m;
      try {
        link.send(ControlLink.Type.HELLO, ProcessHandle.current().pid(), null);
        m = link.receive();
      } catch (IOException e) {
        m = null; // refused: the running proxy closed the link at once
      }
      if (m == null) {
        throw new IOException("the running proxy at " + control + " closed the control link"
            + " (refused: is this proxy's uid allowed by its --control-uid?)");
      }
      int count = 1;
      for (int i = 0; i < count; i++) {
        if (i > 0) {
          m = link.receive();
        }
        if (m == null) {
          throw new IOException("the running proxy ended the control link after " + i + " of "
              + count + " listening sockets");
        }
        if (m.type() != ControlLink.Type.LISTENER) {
          throw new IOException("the running proxy sent " + m.type() + " instead of LISTENER "
              + (i + 1) + " of " + count);
        }
        fds.add(m.fd());
        ListenerValue value = ListenerValue.decode(m.value());
        if (i == 0) {
          count = value.count();
        } else if (value.index() != i || value.count() != count) {
          throw new IOException("the running proxy sent LISTENER " + (value.index() + 1) + " of "
              + value.count() + " where " + (i + 1) + " of " + count + " was due");
        }
      }
      pause("listener");
      for (int i = 0; i < fds.size(); i++) {
        FileDescriptor fd = fds.get(i);
        channels.add(JdkNioInternals.serverSocketChannel(fd));
        fds.set(i, null); // the channel owns it
      }
      List<InetSocketAddress> addresses = new ArrayList<>();
      for (ServerSocketChannel channel : channels) {
        addresses.add(localAddress(channel));
      }
      log.info("received the listening socket{} {} from the running proxy at {}",
          addresses.size() == 1 ? "" : "s", addresses.size() == 1 ? addresses.get(0) : addresses,
          control);
      return new TakeOverClient(link, channels);
    } catch (IOException | RuntimeException e) {
      fds.forEach(Descriptors::close);
      channels.forEach(Closeables::closeQuietly);
      link.close();
      throw e;
    }
  }

  /**
   * Gives each configured listener the received socket on its address ({@link ListenerMatch}),
   * and closes this process's copy of the received sockets that no listener wants (the running
   * proxy closes its own once it stops accepting, so they stop listening when it exits).
   *
   * @param wanted the configured addresses, one per listener
   * @param anyIfOne whether one socket received for one listener is taken whatever its address,
   *     as {@code proxy --take-over PORT SOCKET} always did (PORT and --bind are the socket's)
   * @return per listener, its socket (now the caller's, to close), or null to bind afresh
   */
  List<ServerSocketChannel> assign(List<InetSocketAddress> wanted, boolean anyIfOne) {
    List<InetSocketAddress> got = new ArrayList<>();
    for (ServerSocketChannel channel : received) {
      got.add(channel == null ? null : localAddress(channel));
    }
    ServerSocketChannel[] result = new ServerSocketChannel[wanted.size()];
    if (anyIfOne && wanted.size() == 1 && received.size() == 1 && received.get(0) != null) {
      if (got.get(0) == null || got.get(0).getPort() != wanted.get(0).getPort()) {
        log.warn("the running proxy accepts on {}, not on port {}: taking that socket over",
            got.get(0), wanted.get(0).getPort());
      }
      result[0] = received.set(0, null);
      return Arrays.asList(result);
    }
    ListenerMatch match = ListenerMatch.of(wanted, got);
    for (int i = 0; i < wanted.size(); i++) {
      int r = match.receivedFor(i);
      if (r >= 0) {
        result[i] = received.set(r, null);
      } else {
        log.info("no listening socket on {} was passed on: this proxy binds it", wanted.get(i));
      }
    }
    for (int r : match.unwanted()) {
      log.info("the running proxy's listening socket {} is in no listener here: closing this"
          + " copy; it stops listening once the running proxy has handed over", got.get(r));
      Closeables.closeQuietly(received.set(r, null));
    }
    return Arrays.asList(result);
  }

  /**
   * Tells the running proxy that this one accepts (call once every acceptor runs), then, on a
   * thread of its own, waits for its DONE, answers RELEASE and, once the link has ended, runs
   * {@code afterwards} (which binds the control socket for the next upgrade). If the link ends
   * early, the running proxy accepts again (or has died): this one serves on all the same.
   */
  void accepting(Runnable afterwards) {
    Thread thread = new Thread(() -> {
      try {
        pause("accepting");
        link.send(ControlLink.Type.ACCEPTING, ProcessHandle.current().pid(), null);
        pause("accepting-sent");
        ControlLink.Message m = link.receive();
        if (m == null || m.type() != ControlLink.Type.DONE) {
          log.warn("the running proxy ended the control link without DONE ({}): it accepts"
              + " again, or is gone; this proxy serves on", m == null ? "end" : m.type());
          if (m != null) {
            Descriptors.close(m.fd());
          }
        } else {
          pause("done");
          link.send(ControlLink.Type.RELEASE, ProcessHandle.current().pid(), null);
          ControlLink.Message more;
          while ((more = link.receive()) != null) {
            Descriptors.close(more.fd());
            log.warn("the running proxy sent more after DONE; ignored");
          }
          log.info("take-over complete: the previous proxy is done and exits");
        }
      } catch (IOException e) {
        log.warn("control link to the running proxy failed: {}; this proxy serves on",
            Errors.describe(e));
      } finally {
        link.close();
      }
      afterwards.run();
    }, "take-over");
    thread.setDaemon(true);
    thread.start();
  }

  /** Closes the link, and the received sockets not yet assigned. */
  @Override
  public void close() {
    link.close();
    for (int i = 0; i < received.size(); i++) {
      Closeables.closeQuietly(received.set(i, null));
    }
  }

  private static InetSocketAddress localAddress(ServerSocketChannel channel) {
    try {
      return (InetSocketAddress) channel.getLocalAddress();
    } catch (IOException | RuntimeException e) {
      return null; // matches no listener: closed
    }
  }

  private static void pause(String stage) {
    String spec = System.getenv(PAUSE);
    if (spec == null || !spec.startsWith(stage + "=")) {
      return;
    }
    long ms = Long.parseLong(spec.substring(stage.length() + 1));
    log.info("take-over test pause at {} for {} ms", stage, ms);
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
