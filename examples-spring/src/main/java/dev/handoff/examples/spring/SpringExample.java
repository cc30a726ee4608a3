package dev.handoff.examples.spring;

import dev.handoff.jetty.HandoffCustomizer;
import dev.handoff.server.Handoff;
import jakarta.servlet.http.HttpServletRequest;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Profile;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * A Spring Boot application behind a handoff proxy: with {@code --handoff.socket=/path/app.sock}
 * its web server also serves the connections the proxy hands over: MVC on Jetty, or with the
 * {@code webflux} profile WebFlux on Reactor Netty ({@link WebFluxExample}). {@code GET /}
 * answers, one {@code key=value} a line, with this process's pid and what the proxy knew of the
 * connection the request came on; {@code /actuator/health} shows the handoff link. Started by
 * {@code scripts/spring-example [--webflux] SOCKET}.
 */
@SpringBootApplication
@RestController
@Profile("!webflux")
public class SpringExample {
  public static void main(String[] args) {
    SpringApplication.run(SpringExample.class, args);
  }

  @GetMapping(value = "/", produces = "text/plain")
  String index(HttpServletRequest request) {
    StringBuilder page = new StringBuilder()
        .append("pid=").append(ProcessHandle.current().pid()).append('\n')
        .append("remote=").append(request.getRemoteAddr()).append(':')
        .append(request.getRemotePort()).append('\n');
    if (request.getAttribute(HandoffCustomizer.ATTRIBUTE) instanceof Handoff h) {
      page.append("connection=c").append(h.connectionId()).append('\n')
          .append("client=").append(h.client()).append('\n')
          .append("local=").append(h.local()).append('\n')
          .append("accepted=").append(h.acceptedAt()).append('\n')
          .append("migrated=").append(h.migrated()).append('\n');
    } else {
      page.append("handoff=none\n");
    }
    return page.toString();
  }
}
