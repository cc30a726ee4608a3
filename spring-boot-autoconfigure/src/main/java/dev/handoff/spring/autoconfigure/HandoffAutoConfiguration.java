package dev.handoff.spring.autoconfigure;

import dev.handoff.jetty.HandoffConnector;
import io.micrometer.core.instrument.MeterRegistry;
import org.eclipse.jetty.server.Server;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.jetty.JettyServerCustomizer;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.server.reactive.HttpHandler;
import reactor.netty.http.server.HttpServer;

/**
 * When {@code handoff.socket} is set, makes the embedded web server receive the connections a
 * handoff proxy hands over on that unix socket: Jetty (MVC) through a {@link HandoffConnector},
 * Reactor Netty (WebFlux) through the library's Netty transport ({@link
 * HandoffReactorNettyServer}). Each
 * bean backs off when the application defines its own of the same type. Without the property
 * nothing here applies.
 */
@AutoConfiguration
@ConditionalOnProperty(prefix = "handoff", name = "socket")
@EnableConfigurationProperties(HandoffProperties.class)
public class HandoffAutoConfiguration {
  private static final Logger log = LoggerFactory.getLogger(HandoffAutoConfiguration.class);

  @Bean
  @ConditionalOnMissingBean
  HandoffReceivers handoffReceivers() {
    return new HandoffReceivers();
  }

  /**
   * What a process does once a successor has taken its socket over: stop the application (the
   * web server's graceful shutdown lets the connections that stayed finish) and exit.
   */
  static Runnable afterHandOver(HandoffProperties properties,
      ConfigurableApplicationContext context) {
    return () -> {
      if (!properties.isExitAfterHandOver()) {
        log.info("a successor has taken {} over; this application keeps running",
            properties.getSocket());
        return;
      }
      Thread stop = new Thread(() -> {
        log.info("a successor has taken {} over: stopping", properties.getSocket());
        System.exit(SpringApplication.exit(context));
      }, "handoff-handed-over");
      stop.start();
    };
  }

  @Configuration(proxyBeanMethods = false)
  @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
  @ConditionalOnClass({Server.class, JettyServerCustomizer.class, HandoffConnector.class})
  static class JettyConfiguration {
    @Bean
    @ConditionalOnMissingBean
    HandoffJettyCustomizer handoffJettyCustomizer(HandoffProperties properties,
        ObjectProvider<MeterRegistry> registry, HandoffReceivers receivers,
        ConfigurableApplicationContext context) {
      return new HandoffJettyCustomizer(properties, registry.getIfAvailable(), receivers,
          afterHandOver(properties, context));
    }
  }

  @Configuration(proxyBeanMethods = false)
  @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.REACTIVE)
  @ConditionalOnClass({HttpServer.class, HttpHandler.class})
  static class ReactorNettyConfiguration {
    @Bean
    @ConditionalOnMissingBean
    HandoffReactorNettyServer handoffReactorNettyServer(HandoffProperties properties,
        HttpHandler httpHandler, ObjectProvider<MeterRegistry> registry,
        HandoffReceivers receivers, ConfigurableApplicationContext context) {
      return new HandoffReactorNettyServer(properties, httpHandler, registry.getIfAvailable(),
          receivers, afterHandOver(properties, context));
    }
  }

  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(HealthIndicator.class)
  static class HealthConfiguration {
    @Bean
    @ConditionalOnMissingBean(name = "handoffHealthIndicator")
    HandoffHealthIndicator handoffHealthIndicator(HandoffReceivers receivers) {
      return new HandoffHealthIndicator(receivers);
    }
  }
}
