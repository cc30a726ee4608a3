package dev.handoff.proxy.config;

import dev.handoff.proxy.route.RouteSpec;
import dev.handoff.proxy.route.RouteTable;
import dev.handoff.proxy.route.Rule;
import java.io.IOException;
import java.io.Reader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;

/**
 * Reads the proxy's configuration file ({@code proxy --config FILE}): a YAML document listing
 * listeners, each with its address, its routes and the app sockets of each route.
 *
 * <pre>
 * listeners:
 *   - name: tls                      # optional; default listener-N
 *     listen: 443                    # PORT (every address), ADDR:PORT or [IPv6]:PORT
 *     routes:                        # tried in order; the first that matches wins
 *       - name: api                  # optional; default: the rule
 *         match: sni:api.example.com # sni:NAME, alpn:PROTO, host:NAME[/PATH] or default
 *         apps: [/run/handoff/api.sock]
 *       - match: default             # what no other route matches; without it, closed
 *         apps: [/run/handoff/web-1.sock, /run/handoff/web-2.sock]
 *     peek: {max-bytes: 16384, timeout: 1s, malformed: default, defer-accept: true}  # optional
 *     proxy-protocol-from: [10.0.0.0/8]                            # optional
 *     sticky: true                   # optional: a client address to the same app of a route
 * </pre>
 *
 * <p>Strict: an unknown key, a value of the wrong kind, a duplicate key, a listener without
 * routes or apps, two listeners on the same address or two routes of one name are errors, each
 * reported as a {@link ConfigException} naming the file, line, column and field. Nothing is
 * started or opened here: the result can be checked ({@code --check-config}) without side effects.
 */
public final class ConfigFile {
  /** Large enough for any sane configuration, small enough that a wrong file fails at once. */
  private static final int MAX_BYTES = 1 << 20;
  private static final Pattern DURATION = Pattern.compile("(\\d{1,9})(ms|s|m)");

  private final Path file;

  private ConfigFile(Path file) {
    this.file = file;
  }

  /**
   * Reads and checks {@code file}.
   *
   * @return its listeners, in the order written, at least one
   * @throws ConfigException if the file cannot be read or is wrong in any way
   */
  public static List<ListenerSpec> load(Path file) throws ConfigException {
    ConfigFile config = new ConfigFile(file);
    Node root;
    try {
      if (Files.size(file) > MAX_BYTES) {
        throw new ConfigException(file, 0, 0, "", "larger than " + MAX_BYTES + " bytes");
      }
      try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
        LoadSettings settings = LoadSettings.builder().setLabel(file.toString())
            .setAllowDuplicateKeys(false).setAllowRecursiveKeys(false)
            .setMaxAliasesForCollections(10).build();
        root = new Compose(settings).composeReader(in).orElse(null);
      }
    } catch (MarkedYamlEngineException e) {
      Mark mark = e.getProblemMark().orElse(e.getContextMark().orElse(null));
      throw new ConfigException(file, mark == null ? 0 : mark.getLine() + 1,
          mark == null ? 0 : mark.getColumn() + 1, "", "not valid YAML: " + e.getProblem());
    } catch (YamlEngineException e) {
      throw new ConfigException(file, 0, 0, "", "not valid YAML: " + e.getMessage());
    } catch (IOException e) {
      throw new ConfigException(file, 0, 0, "", "cannot read it: " + e);
    }
    if (root == null) {
      throw new ConfigException(file, 0, 0, "", "empty: it needs a 'listeners' list");
    }
    return config.listeners(root);
  }

  private List<ListenerSpec> listeners(Node root) throws ConfigException {
    Map<String, Node> top = mapping(root, "", Set.of("listeners"));
    Node list = require(top, "listeners", root, "");
    List<Node> items = sequence(list, "listeners");
    if (items.isEmpty()) {
      throw error(list, "listeners", "no listener: give at least one");
    }
    List<ListenerSpec> listeners = new ArrayList<>();
    Set<String> names = new HashSet<>();
    Map<InetSocketAddress, String> addresses = new LinkedHashMap<>();
    for (int i = 0; i < items.size(); i++) {
      String field = "listeners[" + i + "]";
      Node item = items.get(i);
      ListenerSpec listener = listener(item, field, i);
      if (!names.add(listener.name())) {
        throw error(item, field + ".name", "another listener is named '" + listener.name() + "'");
      }
      String other = addresses.putIfAbsent(listener.address(), listener.name());
      if (other != null) {
        throw error(item, field + ".listen",
            "listener '" + other + "' already accepts on " + listener.address());
      }
      listeners.add(listener);
    }
    return List.copyOf(listeners);
  }

  private ListenerSpec listener(Node node, String field, int index) throws ConfigException {
    Map<String, Node> map = mapping(node, field,
        Set.of("name", "listen", "routes", "peek", "proxy-protocol-from", "sticky"));
    String name = map.containsKey("name")
        ? name(map.get("name"), field + ".name") : "listener-" + index;
    InetSocketAddress address = address(require(map, "listen", node, field), field + ".listen");
    Node routesNode = require(map, "routes", node, field);
    List<Node> routeNodes = sequence(routesNode, field + ".routes");
    if (routeNodes.isEmpty()) {
      throw error(routesNode, field + ".routes", "no route: give at least one");
    }
    List<RouteSpec> routes = new ArrayList<>();
    RouteSpec fallback = null;
    Set<String> routeNames = new HashSet<>();
    for (int i = 0; i < routeNodes.size(); i++) {
      String routeField = field + ".routes[" + i + "]";
      Node routeNode = routeNodes.get(i);
      RouteSpec route = route(routeNode, routeField);
      if (!routeNames.add(route.name())) {
        throw error(routeNode, routeField, "another route of this listener is named '"
            + route.name() + "'");
      }
      if (route.rule().kind() == Rule.Kind.DEFAULT) {
        if (fallback != null) {
          throw error(routeNode, routeField + ".match", "a second default route");
        }
        if (i != routeNodes.size() - 1) {
          throw error(routeNode, routeField + ".match",
              "the default route must come last: the routes after it could never match");
        }
        fallback = route;
      } else {
        routes.add(route);
      }
    }
    int maxBytes = 0;
    Duration timeout = null;
    Boolean closeMalformed = null;
    Boolean deferAccept = null;
    if (map.containsKey("peek")) {
      String peekField = field + ".peek";
      Map<String, Node> peek = mapping(map.get("peek"), peekField,
          Set.of("max-bytes", "timeout", "malformed", "defer-accept"));
      if (peek.containsKey("max-bytes")) {
        maxBytes = integer(peek.get("max-bytes"), peekField + ".max-bytes", 64, 1 << 20);
      }
      if (peek.containsKey("timeout")) {
        timeout = duration(peek.get("timeout"), peekField + ".timeout");
      }
      if (peek.containsKey("malformed")) {
        String value = scalar(peek.get("malformed"), peekField + ".malformed");
        if (!value.equals("default") && !value.equals("close")) {
          throw error(peek.get("malformed"), peekField + ".malformed",
              "'" + value + "': expected default or close");
        }
        closeMalformed = value.equals("close");
      }
      if (peek.containsKey("defer-accept")) {
        deferAccept = bool(peek.get("defer-accept"), peekField + ".defer-accept");
      }
    }
    List<String> trusted = new ArrayList<>();
    if (map.containsKey("proxy-protocol-from")) {
      String ppField = field + ".proxy-protocol-from";
      List<Node> cidrs = sequence(map.get("proxy-protocol-from"), ppField);
      for (int i = 0; i < cidrs.size(); i++) {
        trusted.add(cidr(cidrs.get(i), ppField + "[" + i + "]"));
      }
    }
    Boolean sticky = null;
    if (map.containsKey("sticky")) {
      sticky = bool(map.get("sticky"), field + ".sticky");
    }
    return new ListenerSpec(name, address, new RouteTable(routes, fallback), maxBytes, timeout,
        closeMalformed, deferAccept, trusted, sticky);
  }

  private RouteSpec route(Node node, String field) throws ConfigException {
    Map<String, Node> map = mapping(node, field, Set.of("name", "match", "apps"));
    Node matchNode = require(map, "match", node, field);
    Rule rule;
    try {
      rule = Rule.parse(scalar(matchNode, field + ".match"));
    } catch (IllegalArgumentException e) {
      throw error(matchNode, field + ".match", e.getMessage());
    }
    String name = map.containsKey("name") ? name(map.get("name"), field + ".name") : rule.text();
    Node appsNode = require(map, "apps", node, field);
    List<Path> sockets = new ArrayList<>();
    List<Node> apps = appsNode instanceof ScalarNode ? List.of(appsNode)
        : sequence(appsNode, field + ".apps");
    if (apps.isEmpty()) {
      throw error(appsNode, field + ".apps", "no app socket: give at least one");
    }
    for (int i = 0; i < apps.size(); i++) {
      String appField = field + ".apps[" + i + "]";
      String path = scalar(apps.get(i), appField);
      if (path.isEmpty() || path.indexOf('\0') >= 0) {
        throw error(apps.get(i), appField, "not a socket path");
      }
      if (path.getBytes(StandardCharsets.UTF_8).length > 107) {
        throw error(apps.get(i), appField, "longer than the 107 bytes a unix socket path may have");
      }
      sockets.add(Path.of(path));
    }
    return new RouteSpec(name, rule, sockets);
  }

  private InetSocketAddress address(Node node, String field) throws ConfigException {
    String text = scalar(node, field);
    int colon = text.lastIndexOf(':');
    String host = colon < 0 ? "" : text.substring(0, colon);
    String portText = colon < 0 ? text : text.substring(colon + 1);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    } else if (host.contains(":")) {
      throw error(node, field, "'" + text + "': write an IPv6 address in brackets, [::1]:443");
    }
    int port;
    try {
      port = Integer.parseInt(portText);
    } catch (NumberFormatException e) {
      throw error(node, field, "'" + text + "': expected PORT, ADDR:PORT or [IPv6]:PORT");
    }
    if (port < 1 || port > 65535) {
      throw error(node, field, "'" + text + "': the port must be 1-65535");
    }
    InetAddress address = host.isEmpty() ? null : literal(host);
    if (!host.isEmpty() && address == null) {
      throw error(node, field, "'" + host + "' is not an IP address (names are not looked up)");
    }
    return address == null ? new InetSocketAddress(port) : new InetSocketAddress(address, port);
  }

  private String cidr(Node node, String field) throws ConfigException {
    String text = scalar(node, field);
    int slash = text.indexOf('/');
    InetAddress address = literal(slash < 0 ? text : text.substring(0, slash));
    if (address == null) {
      throw error(node, field, "'" + text + "' is not ADDRESS/PREFIX (10.0.0.0/8, fd00::/8)");
    }
    if (slash >= 0) {
      int bits = address.getAddress().length * 8;
      int prefix;
      try {
        prefix = Integer.parseInt(text.substring(slash + 1));
      } catch (NumberFormatException e) {
        prefix = -1;
      }
      if (prefix < 0 || prefix > bits) {
        throw error(node, field, "'" + text + "': the prefix must be 0-" + bits);
      }
    }
    return text;
  }

  /** An IP address written as such, never a name to look up; {@code null} if it is not one. */
  private static InetAddress literal(String text) {
    boolean v4 = text.matches("\\d{1,3}(\\.\\d{1,3}){3}");
    boolean v6 = text.contains(":") && text.matches("[0-9A-Fa-f:.]+");
    if (!v4 && !v6) {
      return null;
    }
    try {
      return InetAddress.getByName(text); // a literal: no lookup
    } catch (UnknownHostException e) {
      return null;
    }
  }

  private Duration duration(Node node, String field) throws ConfigException {
    String text = scalar(node, field);
    Matcher m = DURATION.matcher(text);
    if (!m.matches()) {
      throw error(node, field, "'" + text + "' is not a duration (examples: 250ms, 1s, 2m)");
    }
    long n = Long.parseLong(m.group(1));
    Duration d = switch (m.group(2)) {
      case "ms" -> Duration.ofMillis(n);
      case "s" -> Duration.ofSeconds(n);
      default -> Duration.ofMinutes(n);
    };
    if (d.isZero()) {
      throw error(node, field, "must be more than 0");
    }
    return d;
  }

  private boolean bool(Node node, String field) throws ConfigException {
    String value = scalar(node, field);
    if (!value.equals("true") && !value.equals("false")) {
      throw error(node, field, "'" + value + "': expected true or false");
    }
    return Boolean.parseBoolean(value);
  }

  private int integer(Node node, String field, int min, int max) throws ConfigException {
    String text = scalar(node, field);
    try {
      int value = Integer.parseInt(text);
      if (value >= min && value <= max) {
        return value;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw error(node, field, "'" + text + "': expected a whole number from " + min + " to " + max);
  }

  private String name(Node node, String field) throws ConfigException {
    String text = scalar(node, field);
    if (!text.matches("[A-Za-z0-9][A-Za-z0-9._:*/-]{0,99}")) {
      throw error(node, field, "'" + text + "': a name is 1-100 letters, digits and . _ - : * /,"
          + " starting with a letter or digit");
    }
    return text;
  }

  private Map<String, Node> mapping(Node node, String field, Set<String> allowed)
      throws ConfigException {
    if (!(node instanceof MappingNode mapping)) {
      throw error(node, field.isEmpty() ? "(top)" : field, "expected a mapping of "
          + String.join(", ", new java.util.TreeSet<>(allowed)));
    }
    Map<String, Node> map = new LinkedHashMap<>();
    for (NodeTuple tuple : mapping.getValue()) {
      Node keyNode = tuple.getKeyNode();
      String prefix = field.isEmpty() ? "" : field + ".";
      if (!(keyNode instanceof ScalarNode key)) {
        throw error(keyNode, field, "a key must be a plain word");
      }
      if (!allowed.contains(key.getValue())) {
        throw error(keyNode, prefix + key.getValue(), "unknown key; expected one of "
            + String.join(", ", new java.util.TreeSet<>(allowed)));
      }
      if (map.put(key.getValue(), tuple.getValueNode()) != null) {
        throw error(keyNode, prefix + key.getValue(), "given twice");
      }
    }
    return map;
  }

  private List<Node> sequence(Node node, String field) throws ConfigException {
    if (!(node instanceof SequenceNode sequence)) {
      throw error(node, field, "expected a list");
    }
    return sequence.getValue();
  }

  private String scalar(Node node, String field) throws ConfigException {
    if (!(node instanceof ScalarNode scalar)) {
      throw error(node, field, "expected a single value, not a list or mapping");
    }
    return scalar.getValue().trim();
  }

  private Node require(Map<String, Node> map, String key, Node parent, String field)
      throws ConfigException {
    Node node = map.get(key);
    if (node == null) {
      throw error(parent, field.isEmpty() ? key : field + "." + key, "missing");
    }
    return node;
  }

  private ConfigException error(Node node, String field, String problem) {
    Mark mark = node.getStartMark().orElse(null);
    return new ConfigException(file, mark == null ? 0 : mark.getLine() + 1,
        mark == null ? 0 : mark.getColumn() + 1, field, problem);
  }
}
