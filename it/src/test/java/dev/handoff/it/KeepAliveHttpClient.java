package dev.handoff.it;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A strict HTTP/1.1 client on one keep-alive connection at a time, for upgrade tests: it retries
 * nothing, so a connection cut under a request is a failure the test sees. It opens a new
 * connection only when the server said {@code Connection: close} on the previous response.
 */
final class KeepAliveHttpClient implements AutoCloseable {
  /** One response: its status, its headers (lower-case names), its body. */
  record Response(int status, Map<String, String> headers, String body, boolean newConnection) {
    /** The body's {@code key=value} lines. */
    Map<String, String> fields() {
      Map<String, String> fields = new HashMap<>();
      for (String line : body.split("\n")) {
        int eq = line.indexOf('=');
        if (eq > 0) {
          fields.put(line.substring(0, eq), line.substring(eq + 1));
        }
      }
      return fields;
    }
  }

  private final int port;
  private Socket socket;
  private InputStream in;
  private OutputStream out;

  KeepAliveHttpClient(int port) {
    this.port = port;
  }

  /** Sends {@code GET path} and reads the whole response. */
  Response get(String path) throws IOException {
    boolean fresh = socket == null;
    if (fresh) {
      socket = new Socket();
      socket.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
      socket.setSoTimeout(30_000);
      in = socket.getInputStream();
      out = socket.getOutputStream();
    }
    out.write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .getBytes(StandardCharsets.US_ASCII));
    out.flush();
    String statusLine = line();
    String[] parts = statusLine.split(" ", 3);
    if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
      throw new IOException("not an HTTP response: '" + statusLine + "'");
    }
    Map<String, String> headers = new HashMap<>();
    for (String h = line(); !h.isEmpty(); h = line()) {
      int colon = h.indexOf(':');
      headers.put(h.substring(0, colon).trim().toLowerCase(Locale.ROOT),
          h.substring(colon + 1).trim());
    }
    String length = headers.get("content-length");
    if (length == null) {
      throw new IOException("no Content-Length: " + headers);
    }
    byte[] body = in.readNBytes(Integer.parseInt(length));
    if (body.length < Integer.parseInt(length)) {
      throw new IOException("connection ended inside a body");
    }
    if ("close".equalsIgnoreCase(headers.get("connection"))) {
      close();
    }
    return new Response(Integer.parseInt(parts[1]), headers,
        new String(body, StandardCharsets.UTF_8), fresh);
  }

  /** The local port of the connection in use, or -1 if none is open. */
  int localPort() {
    return socket == null ? -1 : socket.getLocalPort();
  }

  private String line() throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int b;
    while ((b = in.read()) != '\n') {
      if (b < 0) {
        throw new IOException("connection ended before a complete response");
      }
      if (b != '\r') {
        bytes.write(b);
      }
    }
    return bytes.toString(StandardCharsets.ISO_8859_1);
  }

  @Override
  public void close() {
    if (socket != null) {
      try {
        socket.close();
      } catch (IOException e) {
        // closed either way
      }
      socket = null;
    }
  }
}
