package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Random;

/** Blocking clients of the echo service, with timeouts so that a hang fails the test. */
final class EchoClient {
  private EchoClient() {}

  static Socket connect(int port) throws IOException {
    Socket socket = new Socket();
    socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
    socket.setSoTimeout(15_000);
    return socket;
  }

  /** Sends {@code data} and requires the same bytes back. */
  static void assertEchoes(Socket socket, byte[] data) throws IOException {
    socket.getOutputStream().write(data);
    assertArrayEquals(data, readExactly(socket.getInputStream(), data.length),
        "echo of " + data.length + " bytes");
  }

  /** One whole connection: connect, echo, close. */
  static void echoOnce(int port, byte[] data) throws IOException {
    try (Socket socket = connect(port)) {
      assertEchoes(socket, data);
    }
  }

  static byte[] readExactly(InputStream in, int n) throws IOException {
    byte[] buf = new byte[n];
    int off = 0;
    while (off < n) {
      int r = in.read(buf, off, n - off);
      if (r < 0) {
        throw new IOException("EOF after " + off + " of " + n + " bytes");
      }
      off += r;
    }
    return buf;
  }

  static byte[] randomBytes(Random random, int n) {
    byte[] data = new byte[n];
    random.nextBytes(data);
    return data;
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
