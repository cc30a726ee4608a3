package dev.handoff.bench;

import dev.handoff.common.HandoffChannel;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.internal.JdkNioInternals;
import dev.handoff.common.ReceivedHandoff;
import java.io.FileDescriptor;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One handoff through {@link HandoffChannel}: send a real TCP socket's descriptor with its header
 * over a real unix socket, receive it (which duplicates the descriptor away from the link), and
 * close the received copy. That is the proxy's and the app's whole per-connection protocol work,
 * done here on one thread; the socket buffer holds the message between the two calls.
 *
 * <p>The link goes through a listening socket in a temporary directory, as in the project's tests
 * (junixsocket's socket pair leaks descriptors). The trial fails if the process holds more
 * descriptors at its end than at its start.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED"})
public class HandoffChannelBench {
  private Path dir;
  private HandoffChannel sender;
  private HandoffChannel receiver;
  private SocketChannel tcpClient;
  private SocketChannel tcpServer;
  private FileDescriptor payload;
  private HandoffHeader header;
  private long descriptorsAtStart;

  @Setup(Level.Trial)
  public void link() throws IOException {
    dir = Files.createTempDirectory("handoff-bench");
    AFUNIXSocketAddress address = AFUNIXSocketAddress.of(dir.resolve("link.sock"));
    try (AFUNIXServerSocketChannel listener = AFUNIXServerSocketChannel.open()) {
      listener.bind(address);
      AFUNIXSocketChannel raw = AFUNIXSocketChannel.open(address);
      receiver = HandoffChannel.accepted(listener.accept(), "receiver");
      sender = HandoffChannel.accepted(raw, "sender");
    }
    try (ServerSocketChannel tcpListener = ServerSocketChannel.open()) {
      tcpListener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      tcpClient = SocketChannel.open(tcpListener.getLocalAddress());
      tcpServer = tcpListener.accept();
    }
    payload = JdkNioInternals.descriptorOf(tcpServer);
    header = new HandoffHeader(1, 1_700_000_000_000_000L,
        (InetSocketAddress) tcpServer.getRemoteAddress(),
        (InetSocketAddress) tcpServer.getLocalAddress());
    descriptorsAtStart = openDescriptors();
  }

  @Benchmark
  public int sendAndReceive() throws IOException {
    sender.send(header, payload);
    try (ReceivedHandoff got = receiver.receive()) {
      return got.number();
    }
  }

  @TearDown(Level.Trial)
  public void unlink() throws IOException {
    long atEnd = openDescriptors();
    sender.close();
    receiver.close();
    tcpClient.close();
    tcpServer.close();
    Files.deleteIfExists(dir.resolve("link.sock"));
    Files.deleteIfExists(dir);
    if (atEnd > descriptorsAtStart) {
      throw new IllegalStateException("descriptor leak: " + descriptorsAtStart + " open before the"
          + " trial, " + atEnd + " after it");
    }
  }

  private static long openDescriptors() throws IOException {
    try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
      return fds.count();
    }
  }
}
