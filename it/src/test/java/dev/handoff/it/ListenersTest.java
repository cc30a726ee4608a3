package dev.handoff.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * What the tests of upgrading and reloading a proxy of several listeners start from: a
 * {@link DaemonTest} with a control socket path, an echo app per listener port, configuration files
 * of one listener on 127.0.0.1 per port, and a proxy of such a file listening for a take-over.
 */
abstract class ListenersTest extends DaemonTest {
  /** What a proxy logs once its control socket listens (at start, and after a take-over). */
  static final String READY = "ready for a proxy started with --take-over";

  Path control() {
    return dir.resolve("proxy.ctl");
  }

  /** The app socket of the listener on {@code listenPort}. */
  Path appSocket(int listenPort) {
    return dir.resolve("app-" + listenPort + ".sock");
  }

  /** Starts an echo app for each port. */
  void apps(int... ports) throws IOException {
    for (int p : ports) {
      daemons.app(appSocket(p));
    }
  }

  /** Writes {@code NAME.yaml}: one listener on 127.0.0.1 per port, each to its own app. */
  Path config(String name, int... ports) throws IOException {
    List<String> lines = new ArrayList<>(List.of("listeners:"));
    for (int p : ports) {
      lines.addAll(List.of("  - name: l" + p, "    listen: 127.0.0.1:" + p, "    routes:",
          "      - match: default", "        apps: [" + appSocket(p) + "]"));
    }
    Path file = dir.resolve(name + ".yaml");
    Files.writeString(file, String.join("\n", lines) + "\n");
    return file;
  }

  /** Starts {@code proxy --config FILE --control PATH} and waits for its control socket. */
  Daemon firstProxy(Path config) throws IOException {
    Daemon proxy = daemons.start("proxy", "--config", config.toString(), "--control",
        control().toString());
    proxy.awaitLog(READY, Duration.ofSeconds(30));
    return proxy;
  }
}
