package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/**
 * The Java examples of the documents, each the {@code ```java} block after a {@code <!-- example:
 * Name.java -->} marker: taken from the document as a reader sees it and compiled against this
 * test's class path (the library and its dependencies).
 */
final class DocExamples {
  private DocExamples() {}

  /** The source of the example {@code name} of {@code document} (relative to the repository). */
  static String source(String document, String name) throws IOException {
    String doc = Files.readString(Daemon.ROOT.resolve(document));
    int at = doc.indexOf("<!-- example: " + name + ".java -->");
    assertTrue(at >= 0, document + " has the example " + name);
    int start = doc.indexOf("```java\n", at) + "```java\n".length();
    return doc.substring(start, doc.indexOf("```", start));
  }

  /**
   * Compiles the example {@code name} of {@code document} (relative to the repository) in
   * {@code dir} and loads its class {@code name}.
   */
  static Class<?> compile(String document, String name, Path dir)
      throws IOException, ClassNotFoundException {
    Path src = dir.resolve("src-" + name);
    Path classes = dir.resolve("classes-" + name);
    Files.createDirectories(src);
    Files.createDirectories(classes);
    Path file = src.resolve(name + ".java");
    Files.writeString(file, source(document, name));
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    assertEquals(0, javac.run(null, null, null, "-d", classes.toString(),
        "-cp", System.getProperty("java.class.path"), file.toString()), name + " compiles");
    URLClassLoader loader = new URLClassLoader(new URL[] {classes.toUri().toURL()},
        DocExamples.class.getClassLoader());
    return loader.loadClass(name);
  }
}
