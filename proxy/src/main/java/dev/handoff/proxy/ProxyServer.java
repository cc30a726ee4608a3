package dev.handoff.proxy;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Wires the proxy: a {@link TcpAcceptor} thread fills a bounded queue, a {@link Dispatcher} thread
 * empties it into the {@link AppLink}.
 */
final class ProxyServer {
  private static final Logger log = LoggerFactory.getLogger(ProxyServer.class);

  private final ProxyConfig config;
  private final ProxyStats stats = new ProxyStats();
  private final BlockingQueue<AcceptedConnection> queue;
  private final AppLink link;
  private final ScheduledExecutorService copyCloser;
  private ServerSocketChannel server;
  private Thread acceptor;
  private Thread dispatcher;
  private Dispatcher dispatch;

  ProxyServer(ProxyConfig config) {
    this.config = config;
    this.queue = new ArrayBlockingQueue<>(config.queueSize());
    this.link = new AppLink(config.socket(), config.retryMin(), config.retryMax());
    this.copyCloser = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "copy-closer"));
  }

  /** Binds the port and starts both threads. */
  void start() throws IOException {
    InetSocketAddress address = new InetSocketAddress(config.bind(), config.port());
    // The family of the bind address, so that 0.0.0.0 means IPv4 only rather than dual-stack.
    server = ServerSocketChannel.open(config.bind() instanceof Inet4Address
        ? StandardProtocolFamily.INET : StandardProtocolFamily.INET6);
    try {
      server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
      server.bind(address, config.backlog());
    } catch (IOException e) {
      server.close();
      throw new IOException("listen on " + address + ": " + e.getMessage(), e);
    }
    log.info("listening on {}, handing connections to {}", server.getLocalAddress(),
        config.socket());
    dispatch = new Dispatcher(queue, link, stats, config.queueWait(), config.holdCopy(),
        copyCloser);
    dispatcher = daemon(dispatch, "dispatcher");
    acceptor = daemon(new TcpAcceptor(server, queue, stats), "acceptor");
    dispatcher.start();
    acceptor.start();
  }

  /**
   * Stops accepting, sends what is queued within the grace period, closes the rest, and closes the
   * link. Connections already handed off are not touched.
   */
  void stop() throws InterruptedException {
    log.info("shutting down: no longer accepting; {} connections waiting for handoff",
        queue.size());
    try {
      server.close();
    } catch (IOException e) {
      log.warn("closing the listening socket: {}", e.getMessage());
    }
    acceptor.join();
    dispatch.drain(config.shutdownGrace());
    dispatcher.join();
    link.close();
    for (Runnable pending : copyCloser.shutdownNow()) {
      pending.run();
    }
    copyCloser.awaitTermination(1, TimeUnit.SECONDS);
    log.info("stopped: {}", stats);
  }

  private static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }
}
