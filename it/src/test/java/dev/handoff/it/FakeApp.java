package dev.handoff.it;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.HandoffChannel;
import dev.handoff.common.ReceivedHandoff;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;

/**
 * An app played by the test, to misbehave in ways the real one never does. Each handoff it
 * receives goes to the {@link Behaviour}, which owns it.
 */
final class FakeApp implements AutoCloseable {
  /** What the fake app does with one handoff. */
  interface Behaviour {
    /**
     * @param n how many handoffs this fake app received before this one, on any link
     * @return whether to keep reading this link
     */
    boolean handle(int n, ReceivedHandoff handoff, HandoffChannel link, AFUNIXSocketChannel raw)
        throws IOException;
  }

  private final AFUNIXServerSocketChannel server;
  private final Thread acceptor;
  private final AtomicInteger received = new AtomicInteger();

  FakeApp(Path socket, Behaviour behaviour) throws IOException {
    Files.deleteIfExists(socket);
    server = AFUNIXServerSocketChannel.open();
    server.bind(AFUNIXSocketAddress.of(socket));
    acceptor = new Thread(() -> {
      while (server.isOpen()) {
        try {
          AFUNIXSocketChannel raw = server.accept();
          Thread t = new Thread(() -> serve(raw, behaviour), "fake-link");
          t.setDaemon(true);
          t.start();
        } catch (IOException e) {
          return;
        }
      }
    }, "fake-acceptor");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  private void serve(AFUNIXSocketChannel raw, Behaviour behaviour) {
    try (HandoffChannel link = HandoffChannel.accepted(raw, "proxy")) {
      ReceivedHandoff handoff;
      while ((handoff = link.receive()) != null) {
        if (!behaviour.handle(received.getAndIncrement(), handoff, link, raw)) {
          return;
        }
      }
    } catch (IOException e) {
      // the proxy closed the link
    }
  }

  /** Answers ADOPTED and serves the client with one line through the received descriptor. */
  static boolean serveOneLine(ReceivedHandoff handoff, HandoffChannel link, String line)
      throws IOException {
    try (handoff; java.io.FileOutputStream out = new java.io.FileOutputStream(
        handoff.descriptor())) {
      link.sendAck(new Acknowledgement(handoff.header().connectionId(),
          Acknowledgement.Status.ADOPTED));
      out.write((line + "\n").getBytes());
    }
    return true;
  }

  static void writeRaw(AFUNIXSocketChannel raw, String bytes) throws IOException {
    ByteBuffer buf = ByteBuffer.wrap(bytes.getBytes());
    while (buf.hasRemaining()) {
      raw.write(buf);
    }
  }

  int received() {
    return received.get();
  }

  @Override
  public void close() throws IOException {
    server.close();
  }
}
