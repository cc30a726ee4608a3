package dev.handoff.proxy.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.proxy.route.Rule;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigFileTest {
  @TempDir Path dir;

  private Path write(String text) throws IOException {
    Path file = dir.resolve("proxy.yaml");
    Files.writeString(file, text);
    return file;
  }

  @Test
  void readsListenersRoutesAndOptions() throws Exception {
    List<ListenerSpec> listeners = ConfigFile.load(write("""
        # two services behind one port, a third on its own
        listeners:
          - name: tls
            listen: 127.0.0.1:8443
            routes:
              - name: api
                match: sni:api.example.com
                apps: [/run/api.sock]
              - match: alpn:h2
                apps: [/run/h2-a.sock, /run/h2-b.sock]
              - match: default
                apps: /run/web.sock
            peek: {max-bytes: 4096, timeout: 250ms, malformed: close, defer-accept: false}
            proxy-protocol-from: [10.0.0.0/8, "fd00::/8", 192.0.2.7]
            sticky: true
          - listen: "[::1]:8080"
            routes:
              - match: host:example.com/api
                apps: [/run/api.sock]
        """));
    assertEquals(2, listeners.size());
    ListenerSpec tls = listeners.get(0);
    assertEquals("tls", tls.name());
    assertEquals(new InetSocketAddress("127.0.0.1", 8443), tls.address());
    assertEquals(List.of("api", "alpn:h2"), tls.routes().routes().stream()
        .map(r -> r.name()).toList());
    assertEquals(Rule.Kind.SNI, tls.routes().routes().get(0).rule().kind());
    assertEquals(2, tls.routes().routes().get(1).sockets().size());
    assertEquals(List.of(Path.of("/run/web.sock")), tls.routes().fallback().sockets());
    assertEquals(4096, tls.peekMaxBytes());
    assertEquals(Duration.ofMillis(250), tls.peekTimeout());
    assertEquals(Boolean.TRUE, tls.closeMalformed());
    assertEquals(Boolean.FALSE, tls.deferAccept());
    assertEquals(3, tls.proxyProtocolFrom().size());
    assertEquals(Boolean.TRUE, tls.sticky());

    ListenerSpec second = listeners.get(1);
    assertEquals("listener-1", second.name());
    assertEquals(8080, second.address().getPort());
    assertTrue(second.address().getAddress().isLoopbackAddress());
    assertNull(second.routes().fallback(), "no default route: what matches nothing is closed");
    assertEquals(0, second.peekMaxBytes());
    assertNull(second.peekTimeout());
    assertNull(second.deferAccept(), "not given: the command line's --peek-defer-accept decides");
    assertNull(second.sticky(), "not given: the command line's --sticky decides");
  }

  @Test
  void aPortAloneAcceptsOnEveryAddress() throws Exception {
    ListenerSpec only = ConfigFile.load(write("""
        listeners:
          - listen: 1987
            routes: [{match: default, apps: [/tmp/pipe.sock]}]
        """)).get(0);
    assertTrue(only.address().getAddress().isAnyLocalAddress());
    assertEquals(1987, only.address().getPort());
  }

  /** Each error names the file, the line and column of the value, and the field. */
  @Test
  void errorsNameFileLineAndField() throws Exception {
    String head = "listeners:\n  - listen: 443\n    routes:\n";
    expect(head + "      - match: \"sni:\"\n        apps: [/a.sock]\n", 4, "listeners[0].routes[0].match",
        "is not a host name");
    expect(head + "      - match: default\n        apps: [/a.sock]\n        weight: 3\n", 6,
        "listeners[0].routes[0].weight", "unknown key");
    expect(head + "      - match: default\n        apps: []\n", 5, "listeners[0].routes[0].apps",
        "no app socket");
    expect(head + "      - match: default\n", 4, "listeners[0].routes[0].apps", "missing");
    expect(head + "      - match: default\n        apps: [/a]\n      - match: sni:a.example\n"
        + "        apps: [/b]\n", 4, "listeners[0].routes[0].match", "must come last");
    expect("listeners:\n  - listen: 70000\n    routes: [{match: default, apps: [/a]}]\n", 2,
        "listeners[0].listen", "1-65535");
    expect("listeners:\n  - listen: localhost:80\n    routes: [{match: default, apps: [/a]}]\n",
        2, "listeners[0].listen", "not an IP address");
    expect("listeners:\n  - listen: 80\n    routes: [{match: default, apps: [/a]}]\n"
        + "  - listen: 80\n    routes: [{match: default, apps: [/b]}]\n", 4, "listeners[1].listen",
        "already accepts");
    expect("listeners:\n  - listen: 80\n    routes: [{match: default, apps: [/a]}]\n"
        + "    peek: {timeout: soon}\n", 4, "listeners[0].peek.timeout", "not a duration");
    expect("listeners:\n  - listen: 80\n    routes: [{match: default, apps: [/a]}]\n"
        + "    peek: {defer-accept: yes}\n", 4, "listeners[0].peek.defer-accept",
        "expected true or false");
    expect("listeners:\n  - listen: 80\n    routes: [{match: default, apps: [/a]}]\n"
        + "    proxy-protocol-from: [10.0.0.0/33]\n", 4, "listeners[0].proxy-protocol-from[0]",
        "prefix must be 0-32");
    expect("listeners:\n  - listen: 80\n    listen: 81\n    routes: [{match: default, apps: [/a]}]\n",
        3, "", "listen");
    expect("listeners: [\n", 2, "", "not valid YAML");
    expect("", 0, "", "empty");
    expect("listen: 80\n", 1, "listen", "unknown key");
  }

  @Test
  void aMissingFileSaysSo() {
    ConfigException e = assertThrows(ConfigException.class,
        () -> ConfigFile.load(dir.resolve("absent.yaml")));
    assertTrue(e.getMessage().contains("absent.yaml") && e.getMessage().contains("cannot read"),
        e.getMessage());
  }

  private void expect(String text, int line, String field, String words) throws IOException {
    Path file = write(text);
    ConfigException e = assertThrows(ConfigException.class, () -> ConfigFile.load(file),
        () -> "accepted:\n" + text);
    assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
    assertEquals(line, e.line(), e.getMessage());
    if (!field.isEmpty()) {
      assertEquals(field, e.field(), e.getMessage());
    }
    assertTrue(e.getMessage().contains(words), e.getMessage());
  }
}
