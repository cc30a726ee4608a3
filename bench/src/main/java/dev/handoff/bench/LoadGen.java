package dev.handoff.bench;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The load generator of the benchmark suite: plain JDK NIO, one selector on one thread (the
 * benchmark machine has two cores, which the servers need more than the client), direct buffers
 * reused for every read and write, and every echoed byte compared with what was sent.
 *
 * <pre>
 * java -cp handoff-bench.jar dev.handoff.bench.LoadGen SCENARIO --port PORT [options]
 *   connrate  --inflight 32 --size 32 --seconds 5 --warmup 1 --max-connections 10000000
 *             [--tls-hello NAME: send a TLS ClientHello for server name NAME instead of --size
 *             pattern bytes, for a proxy that routes by server name]
 *   rate      --rate 1000 --size 32 --max-inflight 1000 --seconds 5 --warmup 1: connections
 *             started at a fixed rate whatever became of the earlier ones (open loop), the
 *             warm-up at the same rate; "WINDOW started" is printed when the measured window begins
 *   rr        --conns 64 --size 64 --seconds 5 --warmup 1
 *   bulk      --conns 4 --chunk 65536 --window 1048576 --seconds 5 --warmup 1
 *   hold      --conns 10000 --max-connecting 256 --size 16 --release-file F --hold-timeout 120
 *   --host H  (default 127.0.0.1; loopback addresses only)
 *   --cpu label:PID,label:PID  (servers whose CPU over the measured window is reported)
 * </pre>
 *
 * Prints one line {@code RESULT scenario=... key=value ...} (hold also prints a {@code HELD} line
 * first). Exit code 0, or 3 if any echoed byte was wrong, 2 on a usage error.
 */
public final class LoadGen {
  private LoadGen() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 1 || args[0].startsWith("-")) {
      usage("missing SCENARIO");
    }
    String scenario = args[0];
    Map<String, String> opts = new HashMap<>();
    for (int i = 1; i < args.length; i += 2) {
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        usage("bad option " + args[i]);
      }
      opts.put(args[i].substring(2), args[i + 1]);
    }
    InetAddress host = InetAddress.getByName(opts.getOrDefault("host", "127.0.0.1"));
    if (!host.isLoopbackAddress()) {
      usage("refusing " + host + ": the load generator sends only to loopback addresses");
    }
    if (!opts.containsKey("port")) {
      usage("--port is required");
    }
    InetSocketAddress target = new InetSocketAddress(host, Integer.parseInt(opts.get("port")));
    double seconds = Double.parseDouble(opts.getOrDefault("seconds", "5"));
    double warmup = Double.parseDouble(opts.getOrDefault("warmup", "1"));
    if (seconds <= 0 || seconds > 600 || warmup < 0 || warmup > 600) {
      usage("--seconds must be in (0, 600], --warmup in [0, 600]");
    }
    byte[] hello = opts.containsKey("tls-hello") ? clientHello(opts.get("tls-hello")) : null;
    Driver driver = switch (scenario) {
      case "connrate" -> new ConnRate(target, intOpt(opts, "inflight", 32),
          hello != null ? hello.length : intOpt(opts, "size", 32), warmup, seconds,
          Long.parseLong(opts.getOrDefault("max-connections", "10000000")));
      case "rr" -> new RequestResponse(target, intOpt(opts, "conns", 64), intOpt(opts, "size", 64),
          warmup, seconds);
      case "bulk" -> new Bulk(target, intOpt(opts, "conns", 4), intOpt(opts, "chunk", 65536),
          Long.parseLong(opts.getOrDefault("window", "1048576")), warmup, seconds);
      case "rate" -> new OpenLoop(target, Double.parseDouble(opts.getOrDefault("rate", "1000")),
          intOpt(opts, "size", 32), intOpt(opts, "max-inflight", 1000), warmup, seconds);
      case "hold" -> new Hold(target, intOpt(opts, "conns", 10000),
          intOpt(opts, "max-connecting", 256), intOpt(opts, "size", 16),
          opts.containsKey("release-file") ? Path.of(opts.get("release-file")) : null,
          Double.parseDouble(opts.getOrDefault("hold-timeout", "120")));
      default -> {
        usage("unknown scenario " + scenario);
        yield null;
      }
    };
    if (hello != null) {
      if (!scenario.equals("connrate")) {
        usage("--tls-hello is for connrate");
      }
      driver.fixed = hello;
    }
    if (opts.containsKey("cpu")) {
      driver.cpu = new CpuWindow(opts.get("cpu"));
    }
    String result = driver.run();
    System.out.println("RESULT " + result);
    System.out.flush();
    System.exit(driver.mismatches > 0 ? 3 : 0);
  }

  /**
   * The first flight of a TLS client that asks for {@code serverName} (SNI), as the JDK's
   * SSLEngine writes it: what a proxy routing by server name peeks at. Echoed, it is checked byte
   * for byte like any other stream.
   */
  static byte[] clientHello(String serverName) throws Exception {
    javax.net.ssl.SSLContext context = javax.net.ssl.SSLContext.getInstance("TLS");
    context.init(null, null, null);
    javax.net.ssl.SSLEngine engine = context.createSSLEngine(serverName, 443);
    engine.setUseClientMode(true);
    javax.net.ssl.SSLParameters params = engine.getSSLParameters();
    params.setServerNames(java.util.List.of(new javax.net.ssl.SNIHostName(serverName)));
    engine.setSSLParameters(params);
    java.nio.ByteBuffer out =
        java.nio.ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
    engine.beginHandshake();
    engine.wrap(java.nio.ByteBuffer.allocate(0), out);
    out.flip();
    byte[] hello = new byte[out.remaining()];
    out.get(hello);
    return hello;
  }

  private static int intOpt(Map<String, String> opts, String name, int dflt) {
    return Integer.parseInt(opts.getOrDefault(name, Integer.toString(dflt)));
  }

  private static void usage(String problem) {
    System.err.println("LoadGen: " + problem);
    System.err.println("usage: LoadGen connrate|rate|rr|bulk|hold --port PORT [--host 127.0.0.1]"
        + " [--seconds S] [--warmup S] [scenario options]; see the class comment");
    System.exit(2);
  }
}
