package dev.handoff.spring.autoconfigure;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.IntSupplier;
import java.util.function.Supplier;

/**
 * The handoff receivers the embedded web server runs (one per web server; the health indicator
 * and the take-over's shutdown read them). A receiver is added when its server starts.
 */
public final class HandoffReceivers {
  /**
   * One receiving unix socket.
   *
   * @param server which web server serves its connections ("jetty", "reactor-netty")
   * @param socket the unix socket proxies link to
   * @param connections the handed-off connections served now
   * @param summary one line: handoffs adopted, migrated in, refused; links
   * @param handedOver completes once a successor has taken the socket path over
   */
  public record Receiver(String server, Path socket, IntSupplier connections,
      Supplier<String> summary, CompletableFuture<Void> handedOver) {}

  private final List<Receiver> receivers = new CopyOnWriteArrayList<>();

  /** Adds a receiver once its server has bound the socket. */
  public void add(Receiver receiver) {
    receivers.add(receiver);
  }

  /** The receivers running now. */
  public List<Receiver> all() {
    return List.copyOf(receivers);
  }
}
