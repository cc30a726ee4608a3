package dev.handoff.proxy;

import dev.handoff.common.HandoffChannel;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxy's link to the app: connects on demand, reconnects with exponential backoff, and logs
 * each change of state once (linked, unreachable, lost), never each retry.
 *
 * <p>Used by the dispatcher thread only; {@link #stop()} may be called from any thread.
 */
final class AppLink {
  private static final Logger log = LoggerFactory.getLogger(AppLink.class);

  private final Path socket;
  private final long minBackoffNanos;
  private final long maxBackoffNanos;
  private HandoffChannel channel;
  private long backoffNanos;
  private long nextAttemptNanos;
  private boolean reportedDown;
  private volatile boolean stopped;

  AppLink(Path socket, Duration minBackoff, Duration maxBackoff) {
    this.socket = socket;
    this.minBackoffNanos = minBackoff.toNanos();
    this.maxBackoffNanos = Math.max(minBackoffNanos, maxBackoff.toNanos());
  }

  /**
   * Returns the link, connecting first if there is none, retrying until {@code deadlineNanos}.
   *
   * @return the link, or {@code null} if the deadline passed or {@link #stop()} was called first
   */
  HandoffChannel await(long deadlineNanos) throws InterruptedException {
    while (channel == null && !stopped) {
      long now = System.nanoTime();
      if (now - nextAttemptNanos >= 0) {
        tryConnect();
        continue;
      }
      long wait = Math.min(nextAttemptNanos, deadlineNanos) - now;
      if (wait <= 0) {
        return null;
      }
      TimeUnit.NANOSECONDS.sleep(Math.min(wait, TimeUnit.MILLISECONDS.toNanos(50)));
    }
    return channel;
  }

  /** Whether a link is up right now. */
  boolean isUp() {
    return channel != null;
  }

  /** Drops the current link after a failed send; the next {@link #await} reconnects at once. */
  void lost(IOException cause) {
    log.warn("link to app at {} lost: {}", socket, cause.getMessage());
    closeChannel();
    backoffNanos = 0;
    nextAttemptNanos = System.nanoTime();
    reportedDown = true;
  }

  /** Makes {@link #await} return {@code null} from now on; the link stays open until close. */
  void stop() {
    stopped = true;
  }

  void close() {
    stop();
    closeChannel();
  }

  private void tryConnect() {
    try {
      channel = HandoffChannel.connect(socket);
    } catch (IOException e) {
      backoffNanos = backoffNanos == 0 ? minBackoffNanos : Math.min(maxBackoffNanos, backoffNanos * 2);
      nextAttemptNanos = System.nanoTime() + backoffNanos;
      if (!reportedDown) {
        log.warn("app not reachable: {}; retrying with backoff up to {} ms", e.getMessage(),
            TimeUnit.NANOSECONDS.toMillis(maxBackoffNanos));
        reportedDown = true;
      } else {
        log.debug("app still not reachable: {}", e.getMessage());
      }
      return;
    }
    backoffNanos = 0;
    reportedDown = false;
    log.info("linked to app at {} ({})", socket, describePeer());
  }

  private String describePeer() {
    try {
      AFUNIXSocketCredentials creds = channel.peerCredentials();
      return "pid " + creds.getPid() + ", uid " + creds.getUid();
    } catch (IOException | RuntimeException e) {
      return "peer credentials unavailable";
    }
  }

  private void closeChannel() {
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException e) {
        // the link is gone either way
      }
      channel = null;
    }
  }
}
