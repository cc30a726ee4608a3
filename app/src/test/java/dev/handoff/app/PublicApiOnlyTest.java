package dev.handoff.app;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The echo app is the first program built on the library, and it is built on the library's
 * public API alone: no class of it imports the library's internals, which live in
 * {@code dev.handoff.common} (the wire protocol and descriptor passing).
 */
class PublicApiOnlyTest {
  @Test
  void noClassOfTheAppImportsTheLibrarysInternals() throws IOException {
    Path sources = Path.of("src/main/java");
    List<String> offending;
    try (Stream<Path> files = Files.walk(sources)) {
      offending = files.filter(f -> f.toString().endsWith(".java"))
          .flatMap(f -> {
            try {
              return Files.readAllLines(f).stream()
                  .filter(l -> l.startsWith("import dev.handoff.common."))
                  .map(l -> sources.relativize(f) + ": " + l);
            } catch (IOException e) {
              throw new IllegalStateException(e);
            }
          })
          .collect(Collectors.toList());
    }
    assertEquals(List.of(), offending);
  }
}
