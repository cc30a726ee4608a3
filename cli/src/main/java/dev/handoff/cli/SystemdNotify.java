package dev.handoff.cli;

import dev.handoff.common.Errors;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.newsclub.net.unix.AFUNIXDatagramChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * sd_notify(3) without libsystemd: one datagram to the socket named by {@code $NOTIFY_SOCKET}
 * (a path, or an abstract name when it starts with '@'). Without the variable, as outside
 * systemd, it does nothing. Failures are logged once and otherwise ignored: readiness
 * reporting must never stop a daemon.
 */
public final class SystemdNotify {
  private static final Logger log = LoggerFactory.getLogger(SystemdNotify.class);

  private SystemdNotify() {}

  /** Tells systemd the service is up (Type=notify waits for this). */
  public static void ready(String status) {
    send("READY=1\nSTATUS=" + status + "\nMAINPID=" + ProcessHandle.current().pid());
  }

  /** Tells systemd the service is shutting down. */
  public static void stopping() {
    send("STOPPING=1");
  }

  /**
   * Tells systemd that process {@code pid} is the service's main process from now on: a proxy that
   * handed over to its successor says so before it exits, so that systemd follows the successor
   * instead of stopping the service (and killing it) when this process ends. Under
   * {@code NotifyAccess=main} only the main process may send it, which this one still is.
   */
  public static void mainPid(long pid) {
    mainPid(System.getenv("NOTIFY_SOCKET"), pid);
  }

  /** {@link #mainPid(long)} to {@code target}, a {@code $NOTIFY_SOCKET} value (for tests). */
  static void mainPid(String target, long pid) {
    send(target, "MAINPID=" + pid);
  }

  private static void send(String message) {
    send(System.getenv("NOTIFY_SOCKET"), message);
  }

  /** Sends {@code message} to {@code target} (a {@code $NOTIFY_SOCKET} value; null: nothing). */
  private static void send(String target, String message) {
    if (target == null || target.isEmpty()) {
      return;
    }
    try (AFUNIXDatagramChannel channel = AFUNIXDatagramChannel.open()) {
      AFUNIXSocketAddress address = target.startsWith("@")
          ? AFUNIXSocketAddress.inAbstractNamespace(target.substring(1))
          : AFUNIXSocketAddress.of(Path.of(target));
      channel.send(ByteBuffer.wrap(message.getBytes(StandardCharsets.UTF_8)), address);
    } catch (IOException | RuntimeException e) {
      log.warn("sd_notify to {}: {}", target, Errors.describe(e));
    }
  }
}
