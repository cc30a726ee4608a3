package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.HandoffHeader;
import dev.handoff.common.HeaderCodec;
import dev.handoff.common.internal.JdkNioInternals;
import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;

/**
 * Thousands of random and mutated messages written to a running app's socket, while real clients
 * go through a real proxy. The app must not crash, must serve the real clients throughout, and
 * must end with the descriptors it started with. Reproduce a run with -Dfuzz.seed=N.
 */
@Timeout(600)
class FuzzIT {
  private static final int CASES = Integer.getInteger("fuzz.cases", 3000);

  @TempDir Path dir;
  private final List<Closeable> toClose = new ArrayList<>();
  private ServerSocketChannel tcp;
  private Random random;

  @Test
  void hostileMessagesNeverCrashLeakOrDisturbTheApp(TestInfo test) throws Exception {
    long seed = Long.getLong("fuzz.seed", System.nanoTime());
    System.out.println("FuzzIT seed " + seed + " (rerun with -Dfuzz.seed=" + seed + ")");
    random = new Random(seed);
    Path socket = dir.resolve("pipe.sock");
    int port = EchoClient.freePort();
    tcp = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    try (DaemonSet daemons = new DaemonSet(test)) {
      Daemon app = daemons.app(socket);
      daemons.proxy(port, socket);
      EchoClient.echoOnce(port, "warm up".getBytes());
      int baseline = app.settledFds();
      AFUNIXSocketChannel link = null;
      int[] kinds = new int[9];
      java.util.Map<String, Integer> linkErrors = new java.util.TreeMap<>();
      for (int i = 0; i < CASES; i++) {
        if (link == null || random.nextInt(20) == 0) {
          finish(link);
          link = AFUNIXSocketChannel.open(AFUNIXSocketAddress.of(socket));
        }
        int kind = random.nextInt(kinds.length);
        kinds[kind]++;
        try {
          if (!sendCase(kind, link)) {
            finish(link);
            link = null;
          }
        } catch (IOException e) {
          closeQuietly(link); // the app closed a link that lost framing
          link = null;
          linkErrors.merge(kind + ": " + e, 1, Integer::sum);
        } finally {
          closeAll();
        }
        if (i % 250 == 0) {
          EchoClient.echoOnce(port, ("real client during case " + i).getBytes());
          assertTrue(app.isAlive(), "seed " + seed + ", case " + i + ":\n" + app.log());
        }
      }
      finish(link);
      System.out.println("FuzzIT cases by kind " + java.util.Arrays.toString(kinds)
          + "; sends that found the link closed: " + linkErrors);
      EchoClient.echoOnce(port, "real client after the fuzzing".getBytes());
      assertTrue(app.isAlive(), "seed " + seed);
      assertEquals(baseline, app.awaitFds(baseline, Duration.ofSeconds(20)),
          "seed " + seed + ": the app holds the descriptors it held before; cases by kind "
              + java.util.Arrays.toString(kinds));
    } finally {
      tcp.close();
    }
  }

  /** Writes one case; returns false when the link should be closed afterwards. */
  private boolean sendCase(int kind, AFUNIXSocketChannel link) throws IOException {
    ByteBuffer header = validHeader();
    switch (kind) {
      case 0 -> { // random bytes, random descriptors
        byte[] junk = new byte[1 + random.nextInt(300)];
        random.nextBytes(junk);
        send(link, ByteBuffer.wrap(junk), randomDescriptors(random.nextInt(3)));
        return random.nextBoolean();
      }
      case 1 -> { // a valid header with a few bytes flipped
        for (int flips = 1 + random.nextInt(3); flips > 0; flips--) {
          int at = random.nextInt(header.limit());
          header.put(at, (byte) (header.get(at) ^ (1 + random.nextInt(255))));
        }
        send(link, header, randomDescriptors(1));
        return true;
      }
      case 2 -> { // a random header length
        header.putShort(6, (short) random.nextInt(0x10000));
        send(link, header, randomDescriptors(1));
        return random.nextBoolean();
      }
      case 3 -> { // truncated, then the link closes
        header.limit(1 + random.nextInt(header.limit() - 1));
        send(link, header, randomDescriptors(random.nextInt(2)));
        return false;
      }
      case 4 -> { // valid framing, zero to three descriptors of any kind
        send(link, header, randomDescriptors(random.nextInt(4)));
        return true;
      }
      case 5 -> { // more descriptors than the app's control buffer holds: truncated control data
        FileDescriptor devNull = devNull();
        FileDescriptor[] many = new FileDescriptor[64 + random.nextInt(150)];
        java.util.Arrays.fill(many, devNull);
        send(link, header, many);
        return true;
      }
      case 6 -> { // a header that claims more bytes than it has: the stream loses framing
        header.putShort(6, (short) (HeaderCodec.V1_LENGTH + 1 + random.nextInt(500)));
        send(link, header, randomDescriptors(1));
        return true;
      }
      case 7 -> { // descriptors with no data at all is impossible; one byte then, with two fds
        send(link, ByteBuffer.wrap(new byte[] {0x48}), randomDescriptors(2));
        return false;
      }
      default -> { // a real handoff, which the app adopts and serves
        SocketChannel client = SocketChannel.open(tcp.getLocalAddress());
        toClose.add(client);
        SocketChannel accepted = tcp.accept();
        toClose.add(accepted);
        send(link, header, JdkNioInternals.descriptorOf(accepted));
        return true;
      }
    }
  }

  private ByteBuffer validHeader() throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(HeaderCodec.V1_LENGTH);
    HeaderCodec.encode(new HandoffHeader(random.nextInt(1_000_000), 0,
        new InetSocketAddress(InetAddress.getLoopbackAddress(), 1 + random.nextInt(65535)),
        new InetSocketAddress(InetAddress.getLoopbackAddress(), 1987)), buf);
    return buf.flip();
  }

  private FileDescriptor[] randomDescriptors(int n) throws IOException {
    FileDescriptor[] fds = new FileDescriptor[n];
    for (int i = 0; i < n; i++) {
      fds[i] = switch (random.nextInt(5)) {
        case 0 -> {
          SocketChannel client = SocketChannel.open(tcp.getLocalAddress());
          toClose.add(client);
          SocketChannel accepted = tcp.accept();
          toClose.add(accepted);
          yield JdkNioInternals.descriptorOf(accepted);
        }
        case 1 -> {
          Pipe pipe = Pipe.open();
          toClose.add(pipe.source());
          toClose.add(pipe.sink());
          yield JdkNioInternals.descriptorOf(pipe.sink());
        }
        case 2 -> {
          SocketChannel unix = SocketChannel.open(java.net.StandardProtocolFamily.UNIX);
          toClose.add(unix);
          yield JdkNioInternals.descriptorOf(unix);
        }
        case 3 -> {
          ServerSocketChannel listening = ServerSocketChannel.open()
              .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
          toClose.add(listening);
          yield JdkNioInternals.descriptorOf(listening);
        }
        default -> devNull();
      };
    }
    return fds;
  }

  private FileDescriptor devNull() throws IOException {
    FileInputStream in = new FileInputStream("/dev/null");
    toClose.add(in);
    return in.getFD();
  }

  private static void send(AFUNIXSocketChannel link, ByteBuffer bytes, FileDescriptor... fds)
      throws IOException {
    link.setOutboundFileDescriptors(fds.length == 0 ? null : fds);
    while (bytes.hasRemaining()) {
      link.write(bytes);
      link.setOutboundFileDescriptors((FileDescriptor[]) null);
    }
  }

  /**
   * Ends a link the way a proxy does: no more messages, then wait until the app has read what was
   * sent and closed its side, so that every case is really processed before the next one.
   */
  private static void finish(AFUNIXSocketChannel link) {
    if (link == null) {
      return;
    }
    try {
      link.shutdownOutput();
      link.socket().setSoTimeout(10_000);
      ByteBuffer answers = ByteBuffer.allocate(4096);
      while (link.read(answers.clear()) >= 0) {
        // acknowledgements, which this test does not check
      }
    } catch (IOException e) {
      // reset by the app: it closed with unread bytes, which is also an end
    } finally {
      closeQuietly(link);
    }
  }

  private void closeAll() {
    for (Closeable c : toClose) {
      closeQuietly(c);
    }
    toClose.clear();
  }

  private static void closeQuietly(Closeable c) {
    if (c != null) {
      try {
        c.close();
      } catch (IOException e) {
        // already gone
      }
    }
  }
}
