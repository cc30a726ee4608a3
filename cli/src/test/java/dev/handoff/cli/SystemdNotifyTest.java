package dev.handoff.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXDatagramChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** sd_notify's MAINPID= message, received on a fake {@code $NOTIFY_SOCKET} as systemd would. */
class SystemdNotifyTest {
  @TempDir Path dir;

  @Test
  void mainPidSendsOneDatagramNamingTheNewMainProcess() throws Exception {
    Path notify = dir.resolve("notify.sock");
    try (AFUNIXDatagramChannel systemd = AFUNIXDatagramChannel.open()) {
      systemd.bind(AFUNIXSocketAddress.of(notify));
      systemd.socket().setSoTimeout(5_000);
      SystemdNotify.mainPid(notify.toString(), 4242);
      assertEquals("MAINPID=4242", receive(systemd));
    }
  }

  @Test
  void mainPidReachesAnAbstractSocketToo() throws Exception {
    String name = "handoff-notify-test-" + ProcessHandle.current().pid();
    try (AFUNIXDatagramChannel systemd = AFUNIXDatagramChannel.open()) {
      systemd.bind(AFUNIXSocketAddress.inAbstractNamespace(name));
      systemd.socket().setSoTimeout(5_000);
      SystemdNotify.mainPid("@" + name, 77);
      assertEquals("MAINPID=77", receive(systemd));
    }
  }

  @Test
  void withoutNotifySocketOrWithADeadOneNothingIsThrown() {
    SystemdNotify.mainPid(null, 1);
    SystemdNotify.mainPid("", 1);
    SystemdNotify.mainPid(dir.resolve("nobody-listens.sock").toString(), 1); // logged, ignored
  }

  private static String receive(AFUNIXDatagramChannel channel) throws Exception {
    ByteBuffer buf = ByteBuffer.allocate(4096);
    channel.receive(buf);
    return new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8);
  }
}
