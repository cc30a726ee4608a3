package dev.handoff.spring.autoconfigure;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * The {@code handoff.*} options. Nothing changes unless {@code handoff.socket} is set; then the
 * embedded web server also serves the connections a handoff proxy hands over on that unix socket
 * (its own port keeps working).
 */
@ConfigurationProperties("handoff")
public class HandoffProperties {
  /**
   * Unix socket the proxy hands connections over on, e.g. /run/app/app.sock. Unset: the web server
   * is left as it is.
   */
  private Path socket;

  /** Mode of the socket file, as ls shows it; only the proxy's uid should be able to connect. */
  private String socketMode = "rw-------";

  /** Uids whose proxies may link (SO_PEERCRED). Empty: this process's own uid. */
  private List<Integer> allowedUids = new ArrayList<>();

  /**
   * Connections served at most; beyond it handoffs are answered RETRY and the proxy keeps them.
   * Unset: from the open-file limit.
   */
  private Integer maxConnections;

  /**
   * Take the socket path over from the process serving it: the upgrade without a failed request.
   * Connections at a request boundary move here; the others finish there.
   */
  private boolean takeOver;

  /** How long a take-over lets each of the old process's connections reach a request boundary. */
  private Duration moveWindow = Duration.ofSeconds(2);

  /**
   * Once a successor has taken over, stop this application (gracefully, as server.shutdown says)
   * and exit the JVM.
   */
  private boolean exitAfterHandOver = true;

  public Path getSocket() {
    return socket;
  }

  public void setSocket(Path socket) {
    this.socket = socket;
  }

  public String getSocketMode() {
    return socketMode;
  }

  public void setSocketMode(String socketMode) {
    this.socketMode = socketMode;
  }

  public List<Integer> getAllowedUids() {
    return allowedUids;
  }

  public void setAllowedUids(List<Integer> allowedUids) {
    this.allowedUids = allowedUids;
  }

  public Integer getMaxConnections() {
    return maxConnections;
  }

  public void setMaxConnections(Integer maxConnections) {
    this.maxConnections = maxConnections;
  }

  public boolean isTakeOver() {
    return takeOver;
  }

  public void setTakeOver(boolean takeOver) {
    this.takeOver = takeOver;
  }

  public Duration getMoveWindow() {
    return moveWindow;
  }

  public void setMoveWindow(Duration moveWindow) {
    this.moveWindow = moveWindow;
  }

  public boolean isExitAfterHandOver() {
    return exitAfterHandOver;
  }

  public void setExitAfterHandOver(boolean exitAfterHandOver) {
    this.exitAfterHandOver = exitAfterHandOver;
  }
}
