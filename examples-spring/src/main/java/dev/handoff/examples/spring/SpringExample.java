package dev.handoff.examples.spring;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/**
 * A Spring Boot application behind a handoff proxy: with {@code --handoff.socket=/path/app.sock}
 * its web server also serves the connections the proxy hands over: MVC on Jetty ({@link
 * MvcExample}), or with the {@code webflux} profile WebFlux on Reactor Netty ({@link
 * WebFluxExample}). {@code GET /} answers, one {@code key=value} a line, with this process's pid
 * and what the proxy knew of the connection the request came on; {@code /actuator/health} shows the
 * handoff link. Started by {@code scripts/spring-example [--webflux] SOCKET}.
 */
@SpringBootApplication
public class SpringExample {
  public static void main(String[] args) {
    SpringApplication.run(SpringExample.class, args);
  }
}
