package dev.handoff.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.function.Consumer;

/**
 * What every scenario shares: one selector on one thread, one direct read buffer, the pattern, and
 * the counts. Scenarios implement {@link #ready} and drive the loop.
 */
abstract class Driver implements Consumer<SelectionKey> {
  final InetSocketAddress target;
  final Selector selector;
  final Pattern pattern;
  /**
   * When set, every connection's stream is these bytes instead of the pattern's (connrate
   * {@code --tls-hello}: a real TLS ClientHello, which a routing proxy reads the server name of).
   */
  byte[] fixed;
  final ByteBuffer readBuffer;
  /** The servers' CPU over the measured window; set by {@link LoadGen} from {@code --cpu}. */
  CpuWindow cpu = new CpuWindow(null);
  long errors;
  long mismatches;
  String firstError;

  Driver(InetSocketAddress target, int maxChunk) throws IOException {
    this.target = target;
    this.selector = Selector.open();
    this.pattern = new Pattern(maxChunk);
    this.readBuffer = ByteBuffer.allocateDirect(maxChunk);
  }

  /** Runs the scenario and returns its result line (without the "RESULT " prefix). */
  abstract String run() throws IOException;

  /** Handles one ready key; the connection is the key's attachment. */
  abstract void ready(Conn c, SelectionKey key) throws IOException;

  @Override
  public final void accept(SelectionKey key) {
    Conn c = (Conn) key.attachment();
    try {
      if (key.isValid()) {
        ready(c, key);
      }
    } catch (IOException e) {
      failed(c, e.getMessage());
    }
  }

  /** A connection failed (refused, reset, closed early): counted, closed, left to the scenario. */
  void failed(Conn c, String why) {
    errors++;
    if (firstError == null) {
      firstError = why;
    }
    c.close();
    c.done = true;
    onFailed(c);
  }

  void onFailed(Conn c) {}

  /** Opens a non-blocking connection; returns true if it is already connected. */
  boolean open(Conn c, int seed) throws IOException {
    c.reset(seed);
    SocketChannel ch = SocketChannel.open();
    c.channel = ch;
    ch.configureBlocking(false);
    ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
    if (ch.connect(target)) {
      c.key = ch.register(selector, 0, c);
      return true;
    }
    c.key = ch.register(selector, SelectionKey.OP_CONNECT, c);
    return false;
  }

  /** Starts sending {@code bytes} more of the connection's stream, watching for room if needed. */
  void startSending(Conn c, int bytes) throws IOException {
    c.toWrite = bytes;
    c.key.interestOps(write(c) > 0
        ? SelectionKey.OP_READ | SelectionKey.OP_WRITE : SelectionKey.OP_READ);
  }

  /** What {@link #echoStep} and {@link #sendAndRead} return when there is no read to look at. */
  static final int NOTHING_READ = -2;

  /**
   * The step of a scenario that echoes {@code size} bytes on each connection: once connected,
   * starts sending them; after that, as {@link #sendAndRead}.
   *
   * @return as {@link #sendAndRead}; {@link #NOTHING_READ} also when the connection just connected
   */
  int echoStep(Conn c, SelectionKey key, int size) throws IOException {
    if (key.isConnectable()) {
      c.channel.finishConnect();
      startSending(c, size);
      return NOTHING_READ;
    }
    return sendAndRead(c, key);
  }

  /**
   * Sends more if the key is writable, then reads once if it is readable.
   *
   * @return what {@link #read} returned, or {@link #NOTHING_READ} when nothing was readable or
   *     the connection failed on a wrong byte ({@code c.done} is then set)
   */
  int sendAndRead(Conn c, SelectionKey key) throws IOException {
    sendMore(c, key);
    if (!key.isReadable()) {
      return NOTHING_READ;
    }
    int n = read(c);
    return c.done ? NOTHING_READ : n;
  }

  /** On a writable key, sends more; stops watching for room once all is sent. */
  void sendMore(Conn c, SelectionKey key) throws IOException {
    if (key.isWritable() && write(c) == 0) {
      key.interestOps(SelectionKey.OP_READ);
    }
  }

  /** Writes up to {@code c.toWrite} bytes of the connection's stream; returns what is left. */
  int write(Conn c) throws IOException {
    ByteBuffer chunk = fixed != null
        ? ByteBuffer.wrap(fixed, (int) c.sent, Math.min(c.toWrite, fixed.length - (int) c.sent))
        : pattern.chunk(c.sent, c.seed, Math.min(c.toWrite, readBuffer.capacity()));
    int n = c.channel.write(chunk);
    c.sent += n;
    c.toWrite -= n;
    return c.toWrite;
  }

  /**
   * Reads once and verifies what arrived against the connection's stream.
   *
   * @return bytes read, or -1 at end of stream; a wrong byte counts as a mismatch and fails the
   *     connection (then 0 is returned and {@code c.done} is set)
   */
  int read(Conn c) throws IOException {
    readBuffer.clear();
    long room = c.sent - c.received;
    if (room <= 0) {
      // The server sent something we never wrote: read one byte to find out, then fail.
      readBuffer.limit(1);
    } else if (room < readBuffer.capacity()) {
      readBuffer.limit((int) room);
    }
    int n = c.channel.read(readBuffer);
    if (n <= 0) {
      return n;
    }
    readBuffer.flip();
    if (room <= 0) {
      mismatches++;
      failed(c, "echo longer than what was sent");
      return 0;
    }
    if (fixed != null) {
      if (c.received + n > fixed.length
          || ByteBuffer.wrap(fixed, (int) c.received, n).mismatch(readBuffer) >= 0) {
        mismatches++;
        failed(c, "wrong byte in a connection's echo of the ClientHello");
        return 0;
      }
    } else if (!pattern.matches(readBuffer, c.received, c.seed)) {
      mismatches++;
      int at = pattern.mismatch(readBuffer, c.received, c.seed);
      failed(c, "wrong byte at offset " + (c.received + at) + " of a connection's echo");
      return 0;
    }
    c.received += n;
    return n;
  }

  void closeAll(Conn[] conns) {
    for (Conn c : conns) {
      if (c != null) {
        c.close();
      }
    }
    try {
      selector.selectNow(); // lets the JDK release the descriptors of cancelled keys
    } catch (IOException e) {
      // nothing more to release
    }
  }

  String tail() {
    return " errors=" + errors + " mismatches=" + mismatches
        + (firstError == null ? "" : " first_error=\"" + firstError.replace('"', '\'') + "\"")
        + cpu.fields();
  }

  static double seconds(long nanos) {
    return nanos / 1e9;
  }
}
