package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;

/** The Java examples of the repository's Markdown files, which tests compile and run. */
final class DocExamples {
  private DocExamples() {}

  /**
   * The source of the example {@code NAME.java} of {@code doc} (a path from the repository's
   * root): the ```java block after its {@code <!-- example: NAME.java -->} marker.
   */
  static String source(String doc, String name) throws IOException {
    String text = Files.readString(Daemon.ROOT.resolve(doc));
    int at = text.indexOf("<!-- example: " + name + ".java -->");
    assertTrue(at >= 0, doc + " has the example " + name);
    int start = text.indexOf("```java\n", at) + "```java\n".length();
    return text.substring(start, text.indexOf("```", start));
  }
}
