package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The library as named modules: what {@code dev.handoff.common} and {@code dev.handoff.server}
 * export, and docs/LIBRARY.md's Netty example built as a module of its own and run on the module
 * path, with the JVM options the docs give, behind the real proxy.
 */
@Timeout(120)
class ModulePathIT extends DaemonTest {
  /** The jars (or class directories) the library's modules and their dependencies are in. */
  private static final Pattern LIBRARY = Pattern.compile(".*(/(common|server)/target/classes"
      + "|/handoff-(common|server)-[^/]*\\.jar|/netty-(common|buffer|resolver|transport"
      + "|transport-native-unix-common|transport-classes-epoll|transport-native-epoll)-[^/]*\\.jar"
      + "|/junixsocket-(common|native-common)-[^/]*\\.jar|/slf4j-api-[^/]*\\.jar)$");

  private static List<Path> modulePath() {
    List<Path> path = new ArrayList<>();
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      if (LIBRARY.matcher(entry).matches()) {
        path.add(Path.of(entry));
      }
    }
    return path;
  }

  @Test
  void commonExportsItsApiAndItsInternalsOnlyToTheServer() {
    ModuleDescriptor common = ModuleFinder.of(modulePath().toArray(Path[]::new))
        .find("dev.handoff.common").orElseThrow().descriptor();
    assertEquals(Map.of("dev.handoff.common", Set.of(),
        "dev.handoff.common.internal", Set.of("dev.handoff.server")), exports(common));
    assertTrue(common.opens().isEmpty(), "opens nothing: " + common.opens());
  }

  @Test
  void theServerExportsOnlyItsApiPackage() {
    ModuleDescriptor server = ModuleFinder.of(modulePath().toArray(Path[]::new))
        .find("dev.handoff.server").orElseThrow().descriptor();
    assertEquals(Map.of("dev.handoff.server", Set.of()), exports(server));
    assertTrue(server.packages().stream().allMatch(p -> p.startsWith("dev.handoff.server")),
        "no package outside its own: " + server.packages());
  }

  @Test
  void theLibrarysNettyExampleRunsOnTheModulePathBehindTheProxy() throws Exception {
    String example = DocExamples.source("docs/LIBRARY.md", "EchoServer");
    Path src = dir.resolve("src");
    Path classes = dir.resolve("modules/demo");
    Files.createDirectories(src.resolve("demo"));
    Files.createDirectories(classes);
    Files.writeString(src.resolve("module-info.java"),
        "module demo {\n  requires dev.handoff.server;\n}\n");
    Files.writeString(src.resolve("demo/EchoServer.java"), "package demo;\n" + example);
    String modulePath = modulePath().stream().map(Path::toString)
        .collect(Collectors.joining(File.pathSeparator));
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    int status = javac.run(null, null, null, "-d", classes.toString(), "--module-path",
        modulePath, src.resolve("module-info.java").toString(),
        src.resolve("demo/EchoServer.java").toString());
    assertEquals(0, status, "the example compiles as a module");

    Path log = dir.resolve("demo.log");
    Process server = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java")
        .toString(),
        "--module-path", classes + File.pathSeparator + modulePath,
        "--add-modules", "ALL-MODULE-PATH",
        // The options docs/LIBRARY.md gives for the module path.
        "--add-exports", "java.base/sun.nio.ch=dev.handoff.common",
        "--add-opens", "org.newsclub.net.unix/org.newsclub.net.unix=dev.handoff.common",
        "--add-opens", "io.netty.transport.classes.epoll/io.netty.channel.epoll=dev.handoff.server",
        "-m", "demo/demo.EchoServer", socket.toString())
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      Daemon.await("the example binds " + socket + " on the module path",
          Duration.ofSeconds(30), () -> Files.exists(socket) || !server.isAlive());
      assertTrue(server.isAlive(), () -> "the example exited: " + read(log));
      daemons.proxy(port, socket);
      for (String word : List.of("named", "modules")) {
        byte[] sent = (word + "\n").getBytes(StandardCharsets.US_ASCII);
        try (Socket client = EchoClient.connect(port)) {
          client.getOutputStream().write(sent);
          assertArrayEquals(sent, EchoClient.readExactly(client.getInputStream(), sent.length),
              () -> read(log));
        }
      }
      assertTrue(!read(log).contains("Exception"), () -> read(log));
    } finally {
      server.destroyForcibly().waitFor();
    }
  }

  private static Map<String, Set<String>> exports(ModuleDescriptor module) {
    Map<String, Set<String>> exports = new TreeMap<>();
    for (ModuleDescriptor.Exports e : module.exports()) {
      exports.put(e.source(), e.targets());
    }
    return exports;
  }

  private static String read(Path log) {
    try {
      return Files.readString(log);
    } catch (java.io.IOException e) {
      return "(no log: " + e + ")";
    }
  }
}
