package dev.handoff.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The commands' picocli is built for Java 17 (module picocli), not the Java 5 class files of the
 * jar picocli publishes: a JDK 25 AOT cache skips classes older than Java 6 once they are linked,
 * so with those every start on JDK 25 would load and verify picocli again.
 */
class PicocliClassFilesTest {
  /** Java 17's class file major version. */
  private static final int JAVA_17 = 61;

  @Test
  void picocliOnTheCommandsClassPathIsCompiledForJava17() throws IOException {
    for (Class<?> type : new Class<?>[] {CommandLine.class, CommandLine.Help.class,
        picocli.AutoComplete.class}) {
      assertEquals(JAVA_17, majorVersion(type), type.getName());
    }
  }

  private static int majorVersion(Class<?> type) throws IOException {
    String resource = type.getName().substring(type.getPackageName().length() + 1) + ".class";
    try (InputStream in = type.getResourceAsStream(resource)) {
      assertNotNull(in, resource);
      DataInputStream data = new DataInputStream(in);
      assertEquals(0xCAFEBABE, data.readInt(), "a class file's magic number");
      data.readUnsignedShort(); // minor version
      return data.readUnsignedShort();
    }
  }
}
