package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The launchers' default JVM options (scripts/launch.sh) as the JVM sees them: present by
 * default, each overridden by JAVA_OPTS without the JVM refusing to start, and the class-data
 * sharing archive mapped only when the build made one for this JDK and jar. Runs {@code ROLE
 * --version} with {@code -XX:+PrintCommandLineFlags}: the JVM prints the flags in force first.
 */
@Timeout(120)
class LauncherDefaultsIT {
  /** Runs {@code scripts/ROLE --version} with the environment given; returns its output. */
  private static String run(String role, Map<String, String> env, String... args)
      throws Exception {
    List<String> command = new ArrayList<>(List.of(Daemon.ROOT.resolve("scripts/" + role)
        .toString()));
    command.addAll(List.of(args));
    command.add("--version");
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    builder.environment().remove("JAVA_OPTS");
    builder.environment().remove("HANDOFF_CDS");
    builder.environment().putAll(env);
    Process p = builder.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), role + " --version did not end");
    assertEquals(0, p.exitValue(), role + " --version with " + env + ": " + out);
    assertTrue(out.contains(role + " "), out);
    return out;
  }

  private static String flags(String role, String javaOpts, String... args) throws Exception {
    return run(role, Map.of("JAVA_OPTS", javaOpts + " -XX:+PrintCommandLineFlags"), args);
  }

  @Test
  void defaultsApplyPerRole() throws Exception {
    String proxy = flags("proxy", "");
    assertTrue(proxy.contains("-XX:+UseSerialGC"), proxy);
    assertTrue(proxy.contains("-XX:InitialHeapSize=8388608"), proxy);
    assertTrue(proxy.contains("-XX:TieredStopAtLevel=1"), proxy);
    assertFalse(proxy.contains("CompileThresholdScaling"), proxy);
    String app = flags("app", "");
    assertTrue(app.contains("-XX:+UseSerialGC"), app);
    assertTrue(app.contains("-XX:InitialHeapSize=33554432"), app);
    assertFalse(app.contains("TieredStopAtLevel"), app);
    assertTrue(app.contains("-XX:CompileThresholdScaling=4.0"), app);
    // A proxy that parses first bytes keeps C2; routes that need none do not change that.
    for (String[] args : List.of(new String[] {"--route", "sni:api.example.com=/run/a.sock"},
        new String[] {"--route=host:www.example.com=/run/a.sock"},
        new String[] {"--config", "/etc/handoff/proxy.yaml"})) {
      String peeking = flags("proxy", "", args);
      assertFalse(peeking.contains("TieredStopAtLevel"), List.of(args) + ": " + peeking);
      assertTrue(peeking.contains("-XX:+UseSerialGC"), peeking);
    }
    String byPort = flags("proxy", "", "--route", "default=/run/a.sock");
    assertTrue(byPort.contains("-XX:TieredStopAtLevel=1"), byPort);
  }

  @Test
  void javaOptsOverrideEachDefault() throws Exception {
    String g1 = flags("app", "-XX:+UseG1GC");
    assertTrue(g1.contains("-XX:+UseG1GC") && !g1.contains("UseSerialGC"), g1);
    String small = flags("proxy", "-Xmx6m");
    assertTrue(small.contains("-XX:MaxHeapSize=6291456"), small);
    assertFalse(small.contains("-XX:InitialHeapSize=8388608"), small);
    String c2 = flags("proxy", "-XX:TieredStopAtLevel=4");
    assertTrue(c2.contains("-XX:TieredStopAtLevel=4"), c2);
    String thresholds = flags("app", "-XX:CompileThresholdScaling=1");
    assertTrue(thresholds.contains("-XX:CompileThresholdScaling=1.0"), thresholds);
    String xms = flags("app", "-Xms64m");
    assertTrue(xms.contains("-XX:InitialHeapSize=67108864"), xms);
  }

  @Test
  void nettyFlightRecorderEventsOffForTheAppUnlessAsked() throws Exception {
    String app = run("app", Map.of("JAVA_OPTS", "-XshowSettings:properties"));
    assertTrue(app.contains("io.netty.jfr.enabled = false"), app);
    String asked = run("app", Map.of("JAVA_OPTS",
        "-Dio.netty.jfr.enabled=true -XshowSettings:properties"));
    assertTrue(asked.contains("io.netty.jfr.enabled = true"), asked);
    assertFalse(asked.contains("io.netty.jfr.enabled = false"), asked);
  }

  @Test
  void keptNativeLibrariesOnlyWhenMadeForThisJar() throws Exception {
    for (String role : new String[] {"proxy", "app"}) {
      // Where the launcher looks for this jar's kept copies (HANDOFF_CDS=native-path prints it).
      Process where = new ProcessBuilder("bash", "-c",
          "HANDOFF_CDS=native-path \"$0\" " + role,
          Daemon.ROOT.resolve("scripts/launch.sh").toString())
          .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
      String dir = new String(where.getInputStream().readAllBytes(), StandardCharsets.UTF_8)
          .trim();
      assertTrue(where.waitFor(30, TimeUnit.SECONDS));
      assertEquals(0, where.exitValue());
      String props = run(role, Map.of("JAVA_OPTS", "-XshowSettings:properties"));
      Path junixsocket;
      try (var files = Files.list(Path.of(dir))) {
        junixsocket = files.filter(f -> f.getFileName().toString()
            .startsWith("libjunixsocket-native-")).findFirst().orElse(null);
      } catch (java.nio.file.NoSuchFileException e) {
        junixsocket = null;
      }
      if (junixsocket != null) {
        assertTrue(props.contains("org.newsclub.net.unix.library.override = " + junixsocket),
            props);
        assertEquals(role.equals("app"), props.contains("java.library.path = " + dir), props);
      } else {
        assertFalse(props.contains("org.newsclub.net.unix.library.override"), props);
      }
      // JAVA_OPTS come after, and win.
      String own = run(role, Map.of("JAVA_OPTS",
          "-Djava.library.path=/nowhere -XshowSettings:properties"));
      assertTrue(own.contains("java.library.path = /nowhere"), own);
    }
  }

  @Test
  void classDataSharingArchiveOnlyWhenMadeForThisJdkAndJar() throws Exception {
    for (String role : new String[] {"proxy", "app"}) {
      String off = run(role, Map.of("HANDOFF_CDS", "off",
          "JAVA_OPTS", "-XX:+PrintCommandLineFlags"));
      assertFalse(off.contains("SharedArchiveFile"), off);
      String on = flags(role, "");
      assertFalse(on.toLowerCase().contains("[warning]") || on.toLowerCase().contains("[error]"),
          on);
      // Where the launcher looks for this JDK's and jar's archive (HANDOFF_CDS=path prints it).
      Process where = new ProcessBuilder("bash", "-c",
          "HANDOFF_CDS=path \"$0\" " + role, Daemon.ROOT.resolve("scripts/launch.sh").toString())
          .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
      String archive = new String(where.getInputStream().readAllBytes(), StandardCharsets.UTF_8)
          .trim();
      assertTrue(where.waitFor(30, TimeUnit.SECONDS));
      if (where.exitValue() == 0 && Files.isReadable(Path.of(archive))) {
        assertTrue(on.contains("-XX:SharedArchiveFile=" + archive), on);
      } else {
        assertFalse(on.contains("SharedArchiveFile"), on);
      }
    }
  }
}
