package dev.handoff.examples.spring;

import dev.handoff.jetty.HandoffCustomizer;
import dev.handoff.server.Handoff;
import jakarta.servlet.http.HttpServletRequest;
import org.springframework.context.annotation.Profile;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/** The example's {@code GET /} on MVC and Jetty (every profile but {@code webflux}). */
@RestController
@Profile("!webflux")
class MvcExample {
  @GetMapping(value = "/", produces = "text/plain")
  String index(HttpServletRequest request) {
    return Page.of(request.getRemoteAddr() + ":" + request.getRemotePort(),
        request.getAttribute(HandoffCustomizer.ATTRIBUTE) instanceof Handoff h ? h : null);
  }
}
