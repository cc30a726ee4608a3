package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * deploy/prometheus/ with Debian's prometheus and promtool: the shipped configuration and rules
 * pass promtool (check config, check rules, test rules), each daemon's live scrape passes
 * {@code promtool check metrics}, and a real Prometheus server scraping a proxy and an app
 * (loopback only, temporary data directory, killed at the end) computes the handoff rate and
 * latency quantiles and fires {@code HandoffNoAppLinked} when the only app stops, then resolves
 * it when the app is back. The alerting rules it loads are the shipped file with every
 * {@code for:} shortened to {@value #TEST_FOR}, so the whole test takes well under a minute.
 */
@Timeout(150)
class PrometheusIT extends DaemonTest {
  private static final Path DEPLOY = Daemon.ROOT.resolve("deploy/prometheus");
  private static final String TEST_FOR = "2s";
  private final HttpClient http = HttpClient.newBuilder()
      .connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeAll
  static void prometheusIsInstalled() {
    assumeTrue(onPath("prometheus") && onPath("promtool"),
        "prometheus and promtool are not installed: apt-get install prometheus"
            + " (scripts/test.sh and .ci/run install it); skipping the Prometheus tests");
  }

  private static boolean onPath(String command) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (Files.isExecutable(Path.of(dir, command))) {
        return true;
      }
    }
    return false;
  }

  /** Runs promtool with {@code args}, stdin from {@code input} (or nothing); returns its output. */
  private String promtool(String input, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of("promtool"));
    command.addAll(List.of(args));
    // The output goes to a file, so that the wait below is bounded whatever promtool does.
    Path output = Files.createTempFile(dir, "promtool-", ".out");
    Process p = new ProcessBuilder(command).directory(DEPLOY.toFile())
        .redirectErrorStream(true).redirectOutput(output.toFile()).start();
    try (var in = p.getOutputStream()) {
      if (input != null) {
        in.write(input.getBytes(StandardCharsets.UTF_8));
      }
    }
    boolean finished = p.waitFor(60, TimeUnit.SECONDS);
    if (!finished) {
      p.destroyForcibly();
    }
    String out = Files.readString(output, StandardCharsets.UTF_8);
    assertTrue(finished, "promtool " + args[0] + " did not finish within 60 s:\n" + out);
    System.out.println("$ promtool " + String.join(" ", args) + "\n" + out);
    assertEquals(0, p.exitValue(), "promtool " + String.join(" ", args) + ":\n" + out);
    return out;
  }

  @Test
  void shippedConfigurationAndRulesPassPromtool() throws Exception {
    assertTrue(promtool(null, "check", "config", "prometheus.yml")
        .contains("SUCCESS: 2 rule files found"));
    promtool(null, "check", "rules", "recording-rules.yml", "alerting-rules.yml");
    assertTrue(promtool(null, "test", "rules", "alerting-rules.test.yml").contains("SUCCESS"));
    // The compose demo's configuration, next to the rules as its image has them.
    Path image = Files.createDirectories(dir.resolve("etc-handoff-prometheus"));
    for (String file : List.of("compose/prometheus.yml", "recording-rules.yml",
        "alerting-rules.yml")) {
      Files.copy(DEPLOY.resolve(file), image.resolve(Path.of(file).getFileName()));
    }
    assertTrue(promtool(null, "check", "config", image.resolve("prometheus.yml").toString())
        .contains("SUCCESS: 2 rule files found"));
    // Every alert has its unit test and its runbook paragraph.
    String alerts = Files.readString(DEPLOY.resolve("alerting-rules.yml"));
    String tests = Files.readString(DEPLOY.resolve("alerting-rules.test.yml"));
    String runbook = Files.readString(Daemon.ROOT.resolve("docs/OPERATIONS.md"));
    Matcher m = Pattern.compile("(?m)^\\s+- alert: (\\w+)$").matcher(alerts);
    int count = 0;
    while (m.find()) {
      String name = m.group(1);
      count++;
      assertTrue(tests.contains("alertname: " + name), name + " has a promtool unit test");
      assertTrue(runbook.contains("### " + name + "\n"), name + " has a runbook paragraph");
      assertTrue(alerts.contains("docs/OPERATIONS.md#" + name.toLowerCase() + "\""),
          name + " links to its runbook paragraph");
    }
    assertEquals(8, count, "alerts in alerting-rules.yml");
  }

  private String[] appArgs;
  private Daemon app;
  private Daemon proxy;
  private int proxyMetrics;
  private int appMetrics;

  /** An app and a proxy, each serving metrics on a free port; one connection echoed. */
  private void startPair() throws Exception {
    proxyMetrics = EchoClient.freePort();
    appMetrics = EchoClient.freePort();
    appArgs = new String[] {"--metrics", "127.0.0.1:" + appMetrics};
    app = daemons.app(socket, appArgs);
    proxy = daemons.proxy(port, socket, "--metrics", "127.0.0.1:" + proxyMetrics,
        "--retry-max", "500ms");
    EchoClient.echoOnce(port, new byte[100]);
  }

  /**
   * Debian's Prometheus scraping both daemons every second, with the shipped recording rules and
   * the alerts with their {@code for:} shortened; returns its API's base URL once both targets
   * are up. The process is stopped after the test.
   */
  private String startPrometheus() throws Exception {
    int web = EchoClient.freePort();
    Path alerts = dir.resolve("alerting-rules.yml");
    String shipped = Files.readString(DEPLOY.resolve("alerting-rules.yml"));
    String shortened = shipped.replaceAll("(?m)^(\\s+for: )\\S+$", "$1" + TEST_FOR);
    assertTrue(!shortened.equals(shipped), "the shipped alerts have for: lines to shorten");
    Files.writeString(alerts, shortened);
    Path config = dir.resolve("prometheus.yml");
    Files.writeString(config, String.join("\n",
        "global: {scrape_interval: 1s, evaluation_interval: 1s}",
        "rule_files:",
        "  - " + DEPLOY.resolve("recording-rules.yml"),
        "  - " + alerts,
        "scrape_configs:",
        "  - job_name: handoff-proxy",
        "    static_configs: [{targets: ['127.0.0.1:" + proxyMetrics + "']}]",
        "  - job_name: handoff-app",
        "    static_configs: [{targets: ['127.0.0.1:" + appMetrics + "']}]",
        ""));
    promtool(null, "check", "config", config.toString());
    prometheusLog = Files.createDirectories(daemons.logs).resolve("prometheus.log");
    prometheus = new ProcessBuilder("prometheus",
        "--config.file=" + config,
        "--storage.tsdb.path=" + dir.resolve("tsdb"),
        "--web.listen-address=127.0.0.1:" + web)
        .redirectErrorStream(true).redirectOutput(prometheusLog.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .start();
    String api = "http://127.0.0.1:" + web + "/api/v1/";
    awaitTrue("Prometheus ready", Duration.ofSeconds(30), prometheusLog,
        () -> get("http://127.0.0.1:" + web + "/-/ready").contains("Ready"));
    awaitTrue("both targets up", Duration.ofSeconds(20), prometheusLog,
        () -> value(query(api, "sum(up{job=~\"handoff-.*\"})")) == 2.0);
    return api;
  }

  private Process prometheus;
  private Path prometheusLog;

  @AfterEach
  void stopPrometheus() throws InterruptedException {
    if (prometheus != null) {
      prometheus.destroy();
      if (!prometheus.waitFor(10, TimeUnit.SECONDS)) {
        prometheus.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void bothDaemonsServeMetricsThatFollowPrometheusConventions() throws Exception {
    startPair();
    promtool(get("http://127.0.0.1:" + proxyMetrics + "/metrics"), "check", "metrics");
    promtool(get("http://127.0.0.1:" + appMetrics + "/metrics"), "check", "metrics");
  }

  @Test
  void prometheusScrapesBothDaemonsAndTheRecordingRulesGiveRateAndLatency() throws Exception {
    startPair();
    String api = startPrometheus();
    for (int i = 0; i < 50; i++) {
      EchoClient.echoOnce(port, new byte[100]);
    }
    awaitTrue("a non-zero handoff rate", Duration.ofSeconds(20), prometheusLog,
        () -> value(query(api, "job:handoff_proxy_handoffs_adopted:rate1m")) > 0
            && value(query(api, "job:handoff_app_handoffs_adopted:rate1m")) > 0);
    awaitTrue("a handoff latency quantile", Duration.ofSeconds(20), prometheusLog,
        () -> value(query(api,
            "job:handoff_proxy_handoff_latency_seconds:quantile1m{quantile=\"0.99\"}")) > 0
            && value(query(api,
            "job:handoff_app_handoff_latency_seconds:quantile1m{quantile=\"0.5\"}")) > 0);
    double proxyP99 = value(query(api,
        "job:handoff_proxy_handoff_latency_seconds:quantile1m{quantile=\"0.99\"}"));
    double appP50 = value(query(api,
        "job:handoff_app_handoff_latency_seconds:quantile1m{quantile=\"0.5\"}"));
    // Seconds, not milliseconds or microseconds: a handoff on loopback takes well under 10 s.
    assertTrue(proxyP99 > 0 && proxyP99 < 10, "proxy p99 in seconds: " + proxyP99);
    assertTrue(appP50 > 0 && appP50 < 10, "app p50 in seconds: " + appP50);
    assertTrue(alertStates(api, "HandoffNoAppLinked").isEmpty(), "no alert while linked");
  }

  @Test
  void theNoAppLinkedAlertFiresWhileTheOnlyAppIsGoneAndResolvesWhenItIsBack() throws Exception {
    startPair();
    String api = startPrometheus();
    assertTrue(alertStates(api, "HandoffNoAppLinked").isEmpty(), "no alert while linked");
    app.stopAndLog();
    long stopped = System.nanoTime();
    awaitTrue("HandoffNoAppLinked firing", Duration.ofSeconds(30), prometheusLog,
        () -> alertStates(api, "HandoffNoAppLinked").contains("firing"));
    long firedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stopped);
    long forMs = Long.parseLong(TEST_FOR.replace("s", "")) * 1000;
    assertTrue(firedMs >= forMs, "the alert waits its for: (" + TEST_FOR + ") before it fires;"
        + " it fired " + firedMs + " ms after the app stopped");
    String firing = get(api + "alerts");
    assertTrue(firing.contains("\"job\":\"handoff-proxy\""), firing);
    assertTrue(firing.contains("\"runbook_url\":\"docs/OPERATIONS.md#handoffnoapplinked\""),
        firing);

    daemons.app(socket, appArgs);
    proxy.awaitLog("linked to app", Duration.ofSeconds(10));
    awaitTrue("HandoffNoAppLinked resolved", Duration.ofSeconds(30), prometheusLog,
        () -> alertStates(api, "HandoffNoAppLinked").isEmpty());
    EchoClient.echoOnce(port, new byte[100]);
  }

  private String get(String url) throws IOException, InterruptedException {
    HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(url))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    return response.body();
  }

  private String query(String api, String promql) throws IOException, InterruptedException {
    return get(api + "query?query=" + urlEncoded(promql));
  }

  private static String urlEncoded(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  /** The value of a one-sample instant vector, NaN when the result is empty. */
  private static double value(String response) {
    Matcher m = Pattern.compile("\"value\":\\[[^,]+,\"([^\"]+)\"\\]").matcher(response);
    return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
  }

  /** The states (pending, firing) of the active alerts named {@code name}. */
  private List<String> alertStates(String api, String name)
      throws IOException, InterruptedException {
    List<String> states = new ArrayList<>();
    for (String alert : get(api + "alerts").split("\\{\"labels\":")) {
      if (alert.contains("\"alertname\":\"" + name + "\"")) {
        Matcher m = Pattern.compile("\"state\":\"(\\w+)\"").matcher(alert);
        states.add(m.find() ? m.group(1) : "?");
      }
    }
    return states;
  }

  interface Check {
    boolean ok() throws Exception;
  }

  private static void awaitTrue(String what, Duration timeout, Path log, Check check)
      throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    Exception last = null;
    while (System.nanoTime() < deadline) {
      try {
        if (check.ok()) {
          return;
        }
      } catch (IOException e) {
        last = e;
      }
      Daemon.sleep(250);
    }
    throw new AssertionError("no " + what + " within " + timeout + (last != null ? " (" + last
        + ")" : "") + "; prometheus log:\n" + Files.readString(log));
  }
}
