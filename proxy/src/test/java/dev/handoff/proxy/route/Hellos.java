package dev.handoff.proxy.route;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;

/** Real ClientHellos, made by the JDK's SSLEngine, and ways to cut them up. */
final class Hellos {
  private Hellos() {}

  /** The first flight of a JDK TLS client: one record holding the ClientHello. */
  static byte[] clientHello(String serverName, List<String> alpn) throws Exception {
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, null, null);
    SSLEngine engine = context.createSSLEngine(serverName, 443);
    engine.setUseClientMode(true);
    SSLParameters params = engine.getSSLParameters();
    if (serverName != null) {
      params.setServerNames(List.of(new SNIHostName(serverName)));
    }
    if (alpn != null) {
      params.setApplicationProtocols(alpn.toArray(String[]::new));
    }
    engine.setSSLParameters(params);
    ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
    engine.wrap(ByteBuffer.allocate(0), out);
    out.flip();
    byte[] bytes = new byte[out.remaining()];
    out.get(bytes);
    return bytes;
  }

  /** The same handshake bytes, re-framed into TLS records of at most {@code size} bytes each. */
  static byte[] reframe(byte[] oneRecord, int size) {
    int length = (oneRecord[3] & 0xff) << 8 | (oneRecord[4] & 0xff);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int at = 5; at < 5 + length; at += size) {
      int n = Math.min(size, 5 + length - at);
      out.write(22);
      out.write(oneRecord[1]);
      out.write(oneRecord[2]);
      out.write(n >> 8);
      out.write(n);
      out.write(oneRecord, at, n);
    }
    return out.toByteArray();
  }
}
