package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.reflect.Method;
import java.net.Socket;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The README's "Use it in your own server" example, taken from the README itself, compiled against
 * the library and run behind the real proxy: what a reader copies works.
 */
@Timeout(120)
class ReadmeExampleIT extends DaemonTest {

  @Test
  void theReadmeExampleCompilesAndServesBehindTheProxy() throws Exception {
    String source = DocExamples.source("README.md", "UpperCaseServer");
    long lines = source.lines().count();
    assertTrue(lines <= 40, "the example stays short: " + lines + " lines");

    Path src = dir.resolve("src");
    Path classes = dir.resolve("classes");
    Files.createDirectories(src);
    Files.createDirectories(classes);
    Path file = src.resolve("UpperCaseServer.java");
    Files.writeString(file, source);
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    int status = javac.run(null, null, null, "-d", classes.toString(),
        "-cp", System.getProperty("java.class.path"), file.toString());
    assertEquals(0, status, "the example compiles");

    URLClassLoader loader = new URLClassLoader(new URL[] {classes.toUri().toURL()},
        getClass().getClassLoader());
    Method main = loader.loadClass("UpperCaseServer").getMethod("main", String[].class);
    Thread server = new Thread(() -> {
      try {
        main.invoke(null, (Object) new String[] {socket.toString()});
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException(e);
      }
    }, "readme-example");
    server.setDaemon(true);
    server.start();
    Daemon.await("the example server binds " + socket, java.time.Duration.ofSeconds(30),
        () -> Files.exists(socket));
    daemons.proxy(port, socket);
    for (String word : List.of("hello", "handoff")) {
      try (Socket client = EchoClient.connect(port)) {
        client.getOutputStream().write((word + "\n").getBytes(StandardCharsets.UTF_8));
        BufferedReader in = new BufferedReader(
            new InputStreamReader(client.getInputStream(), StandardCharsets.UTF_8));
        assertEquals(word.toUpperCase(), in.readLine());
      }
    }
  }
}
