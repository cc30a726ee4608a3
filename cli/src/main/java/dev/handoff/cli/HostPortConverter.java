package dev.handoff.cli;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Reads {@code ADDR:PORT}, {@code [IPv6]:PORT} or {@code :PORT} (all addresses). */
public final class HostPortConverter implements ITypeConverter<InetSocketAddress> {
  @Override
  public InetSocketAddress convert(String value) {
    int colon = value.lastIndexOf(':');
    if (colon < 0) {
      throw new TypeConversionException("'" + value + "' is not ADDR:PORT (example: 127.0.0.1:9100)");
    }
    String host = value.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(value.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new TypeConversionException("'" + value + "': the port is not a number");
    }
    if (port < 0 || port > 65535) {
      throw new TypeConversionException("'" + value + "': port out of range 0-65535");
    }
    try {
      return new InetSocketAddress(host.isEmpty() ? InetAddress.getByName("0.0.0.0")
          : InetAddress.getByName(host), port);
    } catch (UnknownHostException e) {
      throw new TypeConversionException("'" + value + "': unknown address " + host);
    }
  }
}
