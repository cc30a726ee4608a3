package dev.handoff.proxy.upgrade;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.internal.JdkNioInternals;
import java.io.File;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * The new proxy's side receiving several listening sockets over a real control link, from a
 * stand-in for the running proxy: which listener gets which, and that none leaks.
 */
class TakeOverClientTest {
  @TempDir Path dir;

  private static ServerSocketChannel listen(String host) throws IOException {
    ServerSocketChannel s = ServerSocketChannel.open(host.contains(":")
        ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET);
    s.bind(new InetSocketAddress(host, 0));
    return s;
  }

  private static InetSocketAddress address(ServerSocketChannel s) throws IOException {
    return (InetSocketAddress) s.getLocalAddress();
  }

  private static int openFds() {
    return new File("/proc/self/fd").list().length;
  }

  /**
   * A running proxy's side: answers HELLO with a LISTENER for each of {@code sockets} (the first
   * {@code sent} of them; then the link ends), each saying {@code count}.
   */
  private static CompletableFuture<Void> oldProxy(AFUNIXServerSocketChannel control,
      List<ServerSocketChannel> sockets, int sent, int count) {
    return CompletableFuture.runAsync(() -> {
      try (ControlLink link = ControlLink.accepted(control.accept(), "new")) {
        assertEquals(ControlLink.Type.HELLO, link.receive().type());
        for (int i = 0; i < sent; i++) {
          ServerSocketChannel s = sockets.get(i);
          link.send(ControlLink.Type.LISTENER,
              new ListenerValue(address(s).getPort(), i, count).encode(),
              JdkNioInternals.descriptorOf(s));
        }
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
  }

  @Test
  void eachListenerTakesTheSocketOfItsAddressAndTheRestAreClosed() throws Exception {
    JdkNioInternals.requireServerSocketChannels();
    Path path = dir.resolve("ctl.sock");
    List<ServerSocketChannel> old = new ArrayList<>();
    try (AFUNIXServerSocketChannel control = AFUNIXServerSocketChannel.open()) {
      control.bind(AFUNIXSocketAddress.of(path));
      old.add(listen("127.0.0.1")); // kept, as 127.0.0.1
      old.add(listen("0.0.0.0")); // kept, as 0.0.0.0
      old.add(listen("::")); // kept, as ::
      old.add(listen("127.0.0.1")); // dropped from the configuration
      old.add(listen("127.0.0.1")); // configured as 0.0.0.0 now: not the same socket
      int kept4 = address(old.get(0)).getPort();
      int wildcard4 = address(old.get(1)).getPort();
      int wildcard6 = address(old.get(2)).getPort();
      int dropped = address(old.get(3)).getPort();
      int widened = address(old.get(4)).getPort();
      CompletableFuture<Void> sender = oldProxy(control, old, old.size(), old.size());
      List<InetSocketAddress> wanted = List.of(new InetSocketAddress("::", wildcard6),
          new InetSocketAddress("0.0.0.0", widened), new InetSocketAddress("127.0.0.1", kept4),
          new InetSocketAddress("0.0.0.0", wildcard4));
      List<ServerSocketChannel> got;
      try (TakeOverClient client = TakeOverClient.begin(path)) {
        sender.get(10, TimeUnit.SECONDS);
        got = client.assign(wanted, false);
      }
      try {
        assertEquals(wanted.get(0), address(got.get(0)));
        assertNull(got.get(1), "0.0.0.0 is bound afresh, not taken from 127.0.0.1");
        assertEquals(wanted.get(2), address(got.get(2)));
        assertEquals(wanted.get(3), address(got.get(3)));
        // The old proxy's copies go: what it passed on serves on, what nothing wanted is gone.
        for (ServerSocketChannel s : old) {
          s.close();
        }
        for (int port : new int[] {kept4, wildcard4, wildcard6}) {
          try (Socket s = new Socket("127.0.0.1", port)) {
            assertTrue(s.isConnected());
          }
        }
        for (int port : new int[] {dropped, widened}) {
          assertThrows(ConnectException.class, () -> new Socket("127.0.0.1", port).close(),
              "port " + port + " still listens: a received socket leaked");
        }
      } finally {
        for (ServerSocketChannel s : got) {
          if (s != null) {
            s.close();
          }
        }
      }
    } finally {
      for (ServerSocketChannel s : old) {
        s.close();
      }
    }
  }

  @Test
  void aLinkThatEndsMidWayLeavesNoReceivedSocketOpen() throws Exception {
    JdkNioInternals.requireServerSocketChannels();
    Path path = dir.resolve("ctl.sock");
    List<ServerSocketChannel> old = new ArrayList<>();
    try (AFUNIXServerSocketChannel control = AFUNIXServerSocketChannel.open()) {
      control.bind(AFUNIXSocketAddress.of(path));
      for (int i = 0; i < 3; i++) {
        old.add(listen("127.0.0.1"));
      }
      int before = openFds();
      CompletableFuture<Void> sender = oldProxy(control, old, 2, 3);
      IOException e = assertThrows(IOException.class, () -> TakeOverClient.begin(path));
      assertTrue(e.getMessage().contains("after 2 of 3 listening sockets"), e.getMessage());
      sender.get(10, TimeUnit.SECONDS);
      assertEquals(before, openFds(), "descriptors after a failed take-over");
      for (ServerSocketChannel s : old) {
        s.close();
      }
      for (ServerSocketChannel s : old) {
        int port = ((InetSocketAddress) s.socket().getLocalSocketAddress()).getPort();
        assertThrows(ConnectException.class, () -> new Socket("127.0.0.1", port).close());
      }
    } finally {
      for (ServerSocketChannel s : old) {
        s.close();
      }
    }
  }
}
