package dev.handoff.server;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The library names the Netty line it needs when the class path has another. */
class NettyVersionTest {
  @Test
  void netty42OnTheClassPathPasses() {
    assertNull(NettyVersion.check(NettyVersionTest.class.getClassLoader()));
  }

  @Test
  void aClassPathWithoutNetty42sIoHandlesIsRefusedWithTheLineItNeeds() {
    // A loader that sees Netty as 4.1 does: everything but the 4.2 I/O handle types.
    ClassLoader like41 = new ClassLoader(NettyVersionTest.class.getClassLoader()) {
      @Override
      protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
        if (name.equals("io.netty.channel.IoHandle")) {
          throw new ClassNotFoundException(name);
        }
        return super.loadClass(name, resolve);
      }
    };
    String why = NettyVersion.check(like41);
    assertTrue(why != null && why.contains("needs Netty 4.2") && why.contains("Netty 4.2.18"),
        why);
  }
}
