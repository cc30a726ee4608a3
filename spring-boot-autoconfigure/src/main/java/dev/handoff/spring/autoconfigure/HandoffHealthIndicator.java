package dev.handoff.spring.autoconfigure;

import dev.handoff.spring.autoconfigure.HandoffReceivers.Receiver;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * {@code /actuator/health}'s {@code handoff} component: UP while the web server takes handoffs on
 * its unix socket, OUT_OF_SERVICE once a successor has taken the socket over (this process is
 * finishing its last connections), DOWN if the socket was lost, UNKNOWN before the server started.
 * Each receiver's details: its socket, the handed-off connections served now, and one line of
 * counts (handoffs adopted, migrated in, refused; proxy links).
 */
public class HandoffHealthIndicator implements HealthIndicator {
  private final HandoffReceivers receivers;

  public HandoffHealthIndicator(HandoffReceivers receivers) {
    this.receivers = receivers;
  }

  @Override
  public Health health() {
    if (receivers.all().isEmpty()) {
      return Health.unknown().withDetail("reason", "the web server has not started").build();
    }
    Health.Builder health = Health.up();
    for (Receiver r : receivers.all()) {
      Map<String, Object> details = new LinkedHashMap<>();
      details.put("socket", r.socket().toString());
      details.put("connections", r.connections().getAsInt());
      details.put("summary", r.summary().get());
      if (r.handedOver().isCompletedExceptionally()) {
        details.put("state", "socket lost");
        health.down();
      } else if (r.handedOver().isDone()) {
        details.put("state", "handed over to a successor");
        health.outOfService();
      } else {
        details.put("state", "taking handoffs");
      }
      health.withDetail(r.server(), details);
    }
    return health.build();
  }
}
