package dev.handoff.spring.autoconfigure;

import dev.handoff.jetty.HandoffConnector;
import dev.handoff.server.HandoffServerBootstrap;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.util.component.LifeCycle;
import org.springframework.boot.jetty.JettyServerCustomizer;

/**
 * Adds a {@link HandoffConnector} to Spring Boot's embedded Jetty: the server serves the
 * handed-off connections beside its own port, with the same HTTP configuration (so the same
 * request customizers, forwarded headers included). Define a bean of this type to replace it.
 */
public class HandoffJettyCustomizer implements JettyServerCustomizer {
  private final HandoffProperties properties;
  private final MeterRegistry registry;
  private final HandoffReceivers receivers;
  private final Runnable afterHandOver;

  /**
   * @param registry where the handoff meters go; {@code null} for nowhere
   * @param afterHandOver run once a successor has taken over (stops the application)
   */
  public HandoffJettyCustomizer(HandoffProperties properties, MeterRegistry registry,
      HandoffReceivers receivers, Runnable afterHandOver) {
    this.properties = properties;
    this.registry = registry;
    this.receivers = receivers;
    this.afterHandOver = afterHandOver;
  }

  @Override
  public void customize(Server server) {
    HandoffConnector connector = new HandoffConnector(server, properties.getSocket(),
        new HttpConnectionFactory(httpConfiguration(server)));
    connector.setName("handoff");
    connector.setTakeOver(properties.isTakeOver());
    connector.setMoveWindow(properties.getMoveWindow());
    configure(connector.getBootstrap());
    server.addConnector(connector);
    connector.addEventListener(new LifeCycle.Listener() {
      @Override
      public void lifeCycleStarted(LifeCycle event) {
        receivers.add(new HandoffReceivers.Receiver("jetty", connector.getSocket(),
            connector::getConnectionCount, connector::summary, connector.handedOver()));
        connector.handedOver().thenRun(afterHandOver);
      }
    });
  }

  /** The HTTP configuration of the server's own connector, so that both serve alike. */
  private static HttpConfiguration httpConfiguration(Server server) {
    for (Connector c : server.getConnectors()) {
      HttpConnectionFactory http = c.getConnectionFactory(HttpConnectionFactory.class);
      if (http != null) {
        return http.getHttpConfiguration();
      }
    }
    return new HttpConfiguration();
  }

  private void configure(HandoffServerBootstrap bootstrap) {
    bootstrap.socketMode(PosixFilePermissions.fromString(properties.getSocketMode()));
    if (!properties.getAllowedUids().isEmpty()) {
      bootstrap.allowedUids(Set.copyOf(properties.getAllowedUids()));
    }
    if (properties.getMaxConnections() != null) {
      bootstrap.maxConnections(properties.getMaxConnections());
    }
    if (registry != null) {
      bootstrap.meterRegistry(registry);
    }
  }
}
