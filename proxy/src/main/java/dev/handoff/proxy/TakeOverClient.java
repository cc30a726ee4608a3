package dev.handoff.proxy;

import dev.handoff.common.Descriptors;
import dev.handoff.common.Errors;
import dev.handoff.common.JdkNioInternals;
import java.io.FileDescriptor;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The new proxy's side of an upgrade ({@code proxy --take-over --control PATH}; docs/PROTOCOL.md,
 * "Upgrading the proxy"): asks the running proxy for its listening socket, starts accepting on
 * it, says so, and waits for the running proxy to be done.
 *
 * <p>For the fault tests only: the environment variable {@value #PAUSE} ({@code STAGE=MILLIS})
 * makes this proxy log {@code take-over test pause at STAGE} and sleep that long at one stage:
 * {@code connected} (before HELLO), {@code listener} (the listening socket received, not yet
 * accepting), {@code accepting} (accepting, ACCEPTING not yet sent), {@code accepting-sent}
 * (before reading DONE) or {@code done} (DONE read, RELEASE not yet sent).
 */
final class TakeOverClient implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TakeOverClient.class);
  static final String PAUSE = "HANDOFF_TAKEOVER_TEST_PAUSE";

  private final ControlLink link;
  private final ServerSocketChannel listener;

  private TakeOverClient(ControlLink link, ServerSocketChannel listener) {
    this.link = link;
    this.listener = listener;
  }

  /**
   * Connects to the running proxy's control socket and receives its listening socket. Nothing has
   * changed for the running proxy if this fails: it never stopped accepting.
   */
  static TakeOverClient begin(Path control, int expectedPort) throws IOException {
    ControlLink link = ControlLink.connect(control);
    FileDescriptor fd = null;
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
      if (m.type() != ControlLink.Type.LISTENER) {
        throw new IOException("the running proxy sent " + m.type() + " instead of LISTENER");
      }
      fd = m.fd();
      pause("listener");
      ServerSocketChannel channel = JdkNioInternals.serverSocketChannel(fd,
          ProxyServer.family(fd));
      fd = null; // the channel owns it
      int port = ((InetSocketAddress) channel.getLocalAddress()).getPort();
      if (port != expectedPort) {
        log.warn("the running proxy accepts on port {}, not on PORT {}: taking over port {}",
            port, expectedPort, port);
      }
      log.info("received the listening socket {} from the running proxy at {}",
          channel.getLocalAddress(), control);
      return new TakeOverClient(link, channel);
    } catch (IOException | RuntimeException e) {
      Descriptors.close(fd);
      link.close();
      throw e;
    }
  }

  ServerSocketChannel listener() {
    return listener;
  }

  /**
   * Tells the running proxy that this one accepts (call once the acceptor runs), then, on a
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
        } else {
          pause("done");
          link.send(ControlLink.Type.RELEASE, ProcessHandle.current().pid(), null);
          while (link.receive() != null) {
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

  @Override
  public void close() {
    link.close();
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
